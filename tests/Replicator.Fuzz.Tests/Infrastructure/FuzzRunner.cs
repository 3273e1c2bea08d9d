using System.Diagnostics;
using System.Globalization;
using CsCheck;
using Xunit.Abstractions;

namespace Replicator.Fuzz.Tests.Infrastructure;

/// <summary>A property broke: <see cref="Property"/> names which (failures group by it), the message says why.</summary>
internal sealed class FuzzPropertyException(string property, string detail) : Exception($"{property}: {detail}")
{
    public string Property { get; } = property;
}

/// <summary>
/// Runs a harness: draws inputs from a CsCheck generator with a fixed seed (one PCG stream per
/// harness, so a run is the same inputs every time), checks the property on each, bounds each
/// input's time with a watchdog, counts outcomes, and reports every distinct failure with the input
/// in hex and the CsCheck seed that regenerates it.
/// </summary>
/// <remarks>
/// Environment: <c>REPLICATOR_FUZZ_ITERATIONS</c> (inputs per harness; default the smoke count),
/// <c>REPLICATOR_FUZZ_SECONDS</c> (a long run: inputs until this many seconds have passed, or the
/// iteration count if also given), <c>REPLICATOR_FUZZ_SEED</c> (a number: another deterministic run), <c>REPLICATOR_FUZZ_REPLAY</c>
/// (a seed from a failure report: run that one input), <c>REPLICATOR_FUZZ_HANG_SECONDS</c>
/// (an input running longer than this is a hang; default 60), <c>REPLICATOR_FUZZ_REPORT</c> (a file
/// each harness appends its summary line to), <c>REPLICATOR_FUZZ_STRICT=1</c> (known bugs fail the run too).
/// </remarks>
internal static class FuzzRunner
{
    private const int MaxFailures = 200;

    public static long Iterations(long smoke) =>
        long.TryParse(Environment.GetEnvironmentVariable("REPLICATOR_FUZZ_ITERATIONS"), CultureInfo.InvariantCulture, out long n) && n > 0 ? n
        : Budget is not null ? long.MaxValue
        : smoke;

    /// <summary>A long run's time budget per harness; none in the smoke pass, which is a fixed count of inputs.</summary>
    private static TimeSpan? Budget =>
        int.TryParse(Environment.GetEnvironmentVariable("REPLICATOR_FUZZ_SECONDS"), CultureInfo.InvariantCulture, out int s) && s > 0 ? TimeSpan.FromSeconds(s) : null;

    public static bool IsLongRun => Environment.GetEnvironmentVariable("REPLICATOR_FUZZ_ITERATIONS") is { Length: > 0 };

    private static TimeSpan HangLimit =>
        TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable("REPLICATOR_FUZZ_HANG_SECONDS"), CultureInfo.InvariantCulture, out int s) && s > 0 ? s : 60);

    /// <summary>The harness's PCG: its stream from the harness name, its seed fixed unless the environment gives one.</summary>
    private static PCG Start(string harness)
    {
        uint stream = 0x811C9DC5;
        foreach (char c in harness)
        {
            stream = (stream ^ c) * 0x01000193; // FNV-1a: stable across runs, unlike string.GetHashCode
        }

        ulong seed = ulong.TryParse(Environment.GetEnvironmentVariable("REPLICATOR_FUZZ_SEED"), CultureInfo.InvariantCulture, out ulong s) ? s : 20261201;
        return new PCG(stream >> 1, seed);
    }

    /// <summary>Runs a synchronous property on a worker thread under a watchdog.</summary>
    public static FuzzReport Run<T>(string harness, Gen<T> gen, Func<T, string> property, Func<T, string> describe, long smokeIterations, ITestOutputHelper output, IReadOnlyDictionary<string, string>? knownBugs = null)
    {
        var report = new FuzzReport(harness, knownBugs);
        long iterations = Iterations(smokeIterations);
        long progress = 0;
        string? current = null;
        Exception? crashed = null;
        using var done = new ManualResetEventSlim();
        var worker = new Thread(
            () =>
            {
                try
                {
                    foreach ((T input, string seed) in Draw(harness, gen, iterations))
                    {
                        Volatile.Write(ref current, seed);
                        string outcome;
                        try
                        {
                            outcome = property(input);
                        }
#pragma warning disable CA1031 // Every exception out of a property is a finding to report, not to rethrow.
                        catch (Exception e)
#pragma warning restore CA1031
                        {
                            outcome = report.IsKnown(e) ? "known bug" : "FAILED";
                            if (report.Fail(e, seed, describe(input)) >= MaxFailures)
                            {
                                report.Count(outcome);
                                break;
                            }
                        }

                        report.Count(outcome);
                        Interlocked.Increment(ref progress);
                    }
                }
#pragma warning disable CA1031 // Reported by the test thread.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    crashed = e;
                }
                finally
                {
                    done.Set();
                }
            },
            64 << 20) // deep MessagePack nesting must fail by the codec's depth limit, not by this thread's stack
        {
            IsBackground = true,
            Name = $"fuzz {harness}",
        };

        report.Clock.Start();
        worker.Start();
        long seen = -1;
        var still = Stopwatch.StartNew();
        while (!done.Wait(TimeSpan.FromSeconds(1)))
        {
            long now = Interlocked.Read(ref progress);
            if (now != seen)
            {
                seen = now;
                still.Restart();
            }
            else if (still.Elapsed > HangLimit)
            {
                string seed = Volatile.Read(ref current) ?? "?";
                throw new FuzzPropertyException("hang", $"{harness}: input {now} (seed {seed}) has run for more than {HangLimit.TotalSeconds} s: a hang. Replay it with REPLICATOR_FUZZ_REPLAY={seed}.");
            }
        }

        report.Clock.Stop();
        if (crashed is not null)
        {
            throw new FuzzPropertyException("harness", $"{harness} itself failed: {crashed}");
        }

        report.Finish(output);
        return report;
    }

    /// <summary>Runs an asynchronous property one input at a time; an input that does not finish within the hang limit fails the run.</summary>
    public static async Task<FuzzReport> RunAsync<T>(string harness, Gen<T> gen, Func<T, Task<string>> property, Func<T, string> describe, long smokeIterations, ITestOutputHelper output, TimeSpan? hangLimit = null)
    {
        var report = new FuzzReport(harness, null);
        long iterations = Iterations(smokeIterations);
        report.Clock.Start();
        foreach ((T input, string seed) in Draw(harness, gen, iterations))
        {
            string outcome;
            try
            {
                outcome = await property(input).WaitAsync(hangLimit ?? HangLimit);
            }
            catch (TimeoutException)
            {
                report.Fail(new FuzzPropertyException("hang", $"the input ran for more than {(hangLimit ?? HangLimit).TotalSeconds} s: a hang"), seed, describe(input));
                break; // the server may be wedged: nothing after this would mean much
            }
#pragma warning disable CA1031 // Every exception out of a property is a finding to report.
            catch (Exception e)
#pragma warning restore CA1031
            {
                outcome = "FAILED";
                if (report.Fail(e, seed, describe(input)) >= MaxFailures)
                {
                    report.Count(outcome);
                    break;
                }
            }

            report.Count(outcome);
        }

        report.Clock.Stop();
        report.Finish(output);
        return report;
    }

    /// <summary>The inputs of a run with the CsCheck seed of each (PCG state before it was generated).</summary>
    private static IEnumerable<(T Input, string Seed)> Draw<T>(string harness, Gen<T> gen, long iterations)
    {
        if (Environment.GetEnvironmentVariable("REPLICATOR_FUZZ_REPLAY") is { Length: > 0 } replay)
        {
            yield return (gen.Generate(PCG.Parse(replay), null, out _), replay);
            yield break;
        }

        PCG pcg = Start(harness);
        TimeSpan? budget = Budget;
        var clock = Stopwatch.StartNew();
        for (long i = 0; i < iterations && (budget is null || (i % 64 != 0) || clock.Elapsed < budget); i++)
        {
            ulong state = pcg.State;
            T input = gen.Generate(pcg, null, out _);
            yield return (input, pcg.ToString(state));
        }
    }
}

/// <summary>What a harness run saw: inputs, time, outcome counts, failures grouped by signature.</summary>
internal sealed class FuzzReport(string harness, IReadOnlyDictionary<string, string>? knownBugs)
{
    private const int MaxDistinctFailures = 20;

    private static readonly bool Strict = Environment.GetEnvironmentVariable("REPLICATOR_FUZZ_STRICT") == "1";
    private readonly Dictionary<string, (long Count, string First)> _known = new(StringComparer.Ordinal);

    private readonly Dictionary<string, long> _outcomes = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (long Count, string First)> _failures = new(StringComparer.Ordinal);
    private readonly object _gate = new();

    public string Harness { get; } = harness;

    public Stopwatch Clock { get; } = new();

    public long Inputs { get; private set; }

    public long Failures { get; private set; }

    public void Count(string outcome)
    {
        lock (_gate)
        {
            Inputs++;
            _outcomes[outcome] = _outcomes.GetValueOrDefault(outcome) + 1;
        }
    }

    public bool IsKnown(Exception e) =>
        !Strict && e is FuzzPropertyException { Property: var property } && knownBugs?.ContainsKey(property) == true;

    /// <summary>Records a failure; returns the count of failures so far. A known bug is counted and shown, not failed on (unless strict).</summary>
    public long Fail(Exception e, string seed, string input)
    {
        lock (_gate)
        {
            if (IsKnown(e) && e is FuzzPropertyException { Property: var property })
            {
                _known[property] = _known.TryGetValue(property, out var known) ? (known.Count + 1, known.First) : (1, $"{e.Message}\n  seed: {seed}\n  input: {input}");
                return Failures;
            }

            Failures++;
            string signature = Signature(e);
            if (_failures.TryGetValue(signature, out var seen))
            {
                _failures[signature] = (seen.Count + 1, seen.First);
            }
            else if (_failures.Count < MaxDistinctFailures)
            {
                _failures[signature] = (1, $"{e.GetType().FullName}: {e.Message}\n  seed: {seed} (REPLICATOR_FUZZ_REPLAY={seed})\n  input: {input}\n  stack:\n{e.StackTrace}");
            }

            return Failures;
        }
    }

    public string Summary
    {
        get
        {
            double seconds = Clock.Elapsed.TotalSeconds;
            string outcomes = string.Join(", ", _outcomes.OrderByDescending(o => o.Value).Select(o => $"{o.Key}: {o.Value}"));
            string known = string.Concat(_known.Select(k => $"; KNOWN BUG {k.Key} ({knownBugs![k.Key]}) hit by {k.Value.Count} inputs, first: {k.Value.First}"));
            return string.Create(CultureInfo.InvariantCulture, $"{Harness}: {Inputs} inputs in {seconds:F1} s ({Inputs / Math.Max(seconds, 1e-9):F0}/s), {Failures} failures [{outcomes}]{known}");
        }
    }

    public void Finish(ITestOutputHelper output)
    {
        output.WriteLine(Summary);
        if (Environment.GetEnvironmentVariable("REPLICATOR_FUZZ_REPORT") is { Length: > 0 } path)
        {
            File.AppendAllText(path, Summary + Environment.NewLine);
        }

        if (Failures > 0)
        {
            string details = string.Join("\n\n", _failures.Select(f => $"[{f.Value.Count}x] {f.Value.First}"));
            if (Environment.GetEnvironmentVariable("REPLICATOR_FUZZ_REPORT") is { Length: > 0 } reportPath)
            {
                File.AppendAllText(reportPath, details + Environment.NewLine);
            }

            throw new FuzzPropertyException("failures", $"{Summary}\n\n{details}");
        }
    }

    /// <summary>Failures alike if the same exception type is thrown from the same place.</summary>
    private static string Signature(Exception e)
    {
        string? frame = e.StackTrace?.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.Contains("Replicator.", StringComparison.Ordinal) && !l.Contains(".Fuzz.", StringComparison.Ordinal));
        string what = e is FuzzPropertyException property ? property.Property : e.GetType().Name;
        return $"{what} @ {frame}";
    }
}
