using System.Diagnostics;
using System.Net.Sockets;
using Replicator.Qemu.Config;
using Replicator.Qemu.Qmp;

namespace Replicator.Qemu.Processes;

/// <summary>
/// Starts a real QEMU. The adapter listens on the QMP socket first and QEMU connects to it as a
/// client, so "QEMU is up" is an accepted connection, never a loop polling for a socket file; the
/// wait for it races QEMU's exit, so a QEMU that refuses its arguments fails at once with its own
/// error message rather than after a timeout.
/// </summary>
public sealed class QemuLauncher(TimeProvider? time = null) : IQemuLauncher
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public async Task<IQemuInstance> LaunchAsync(VmConfig config, LaunchMode mode, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        File.Delete(config.QmpSocket);
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(config.QmpSocket));
        listener.Listen(1);

        var start = new ProcessStartInfo(config.QemuBinary)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in QemuCommandLine.Build(config, mode))
        {
            start.ArgumentList.Add(argument);
        }

        var console = new QemuConsole(_time);
        var errors = new StandardErrorTail();
        var process = new System.Diagnostics.Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                console.Close(new QemuStartException("QEMU closed its standard output (it exited)"));
            }
            else
            {
                console.Append(e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) => errors.Add(e.Data);
        try
        {
            if (!process.Start())
            {
                throw new QemuStartException($"{config.QemuBinary} did not start");
            }
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            process.Dispose();
            throw new QemuStartException($"cannot run {config.QemuBinary}: {e.Message} (install qemu-system-x86)", e);
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        Task exited = process.WaitForExitAsync(CancellationToken.None);
        try
        {
            Socket qmpSocket = await AcceptOrExitAsync(listener, exited, config, errors, cancellationToken).ConfigureAwait(false);
            File.Delete(config.QmpSocket);
            QmpClient qmp = await QmpClient.OpenAsync(new NetworkStream(qmpSocket, ownsSocket: true), config.CommandTimeout, _time, cancellationToken).ConfigureAwait(false);
            return new QemuInstance(process, qmp, console, exited, errors);
        }
        catch
        {
            KillQuietly(process);
            await exited.ConfigureAwait(false);
            process.Dispose();
            throw;
        }
    }

    internal static void KillQuietly(System.Diagnostics.Process process)
    {
        try
        {
            process.Kill();
        }
        catch (InvalidOperationException)
        {
            // Already exited: nothing to kill.
        }
    }

    private async Task<Socket> AcceptOrExitAsync(Socket listener, Task exited, VmConfig config, StandardErrorTail errors, CancellationToken cancellationToken)
    {
        using var limit = new CancellationTokenSource(config.CommandTimeout, _time);
        using var both = CancellationTokenSource.CreateLinkedTokenSource(limit.Token, cancellationToken);
        Task<Socket> accept = listener.AcceptAsync(both.Token).AsTask();
        Task first = await Task.WhenAny(accept, exited).ConfigureAwait(false);
        if (first == accept && accept.IsCompletedSuccessfully)
        {
            return accept.Result;
        }

        await both.CancelAsync().ConfigureAwait(false);
        try
        {
            Socket late = await accept.ConfigureAwait(false);
            late.Dispose();
        }
        catch (OperationCanceledException)
        {
            // The accept was cancelled: QEMU exited or took too long, reported below.
        }

        cancellationToken.ThrowIfCancellationRequested();
        if (exited.IsCompleted)
        {
            // Give the stderr reader the last lines QEMU wrote before it died.
            await Task.Yield();
            throw new QemuStartException($"QEMU exited before connecting to QMP: {errors.Text()}");
        }

        throw new QemuStartException($"QEMU did not connect to QMP within {config.CommandTimeout.TotalSeconds:0.#} s: {errors.Text()}");
    }
}
