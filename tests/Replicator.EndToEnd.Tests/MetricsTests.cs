using System.Globalization;
using System.Text.RegularExpressions;

namespace Replicator.EndToEnd.Tests;

/// <summary>
/// <c>--metrics HOST:PORT</c>: each daemon serves its hosts' instruments for Prometheus, scraped
/// here over HTTP as Prometheus would; an endpoint off the loopback is refused at start.
/// </summary>
public sealed partial class MetricsTests
{
    [Fact]
    public async Task Both_nodes_serve_their_metrics_and_the_promoted_node_counts_its_failover()
    {
        int primaryMetrics = ReplicatorProcess.FreePort();
        int secondaryMetrics = ReplicatorProcess.FreePort();
        await using DaemonPair pair = await DaemonPair.StartAsync(
            false, ["--metrics", $"127.0.0.1:{secondaryMetrics}"], ["--metrics", $"127.0.0.1:{primaryMetrics}"]);
        Assert.Contains($"metrics for Prometheus at http://127.0.0.1:{primaryMetrics}/metrics", pair.Primary!.Output, StringComparison.Ordinal);
        await Tool.QemuIo(pair.PrimaryUri, "write -P 0x33 0 1M");
        long epoch = await pair.CheckpointAsync();

        string primary = await ScrapeUntilAsync(primaryMetrics, "replicator_epoch_acknowledged", v => v >= epoch);
        Assert.True(Value(primary, "replicator_checkpoint_commit_duration_seconds_count") >= 1, primary);
        Assert.True(Value(primary, "replicator_checkpoints_acknowledged_total") >= 1, primary);
        Assert.Equal(1, Value(primary, "replicator_pair_protected"));
        Assert.Contains("phase=\"journal_flush\"", primary, StringComparison.Ordinal);

        // The checkpoints' RAM pages as captured and as the link carried them: none with no VM (the
        // bench's VM test sees a real guest's pages cross encoded into a fraction of their bytes).
        Assert.Equal(0, Value(primary, "replicator_checkpoint_pages_captured_bytes_total"));
        Assert.Equal(0, Value(primary, "replicator_checkpoint_pages_sent_bytes_total"));

        string secondary = await ScrapeUntilAsync(secondaryMetrics, "replicator_epoch_committed", v => v >= epoch);
        Assert.Equal(0, Value(secondary, "replicator_promoted"));

        pair.Primary.Kill();
        await pair.FailoverAsync();
        secondary = await ScrapeUntilAsync(secondaryMetrics, "replicator_promoted", v => v == 1);
        Assert.Matches("replicator_failovers_total\\{[^}]*trigger=\"operator\"[^}]*\\} 1", secondary);
    }

    [Theory]
    [InlineData("0.0.0.0:9464", "loopback only")]
    [InlineData("127.0.0.1:0", "is not an IP address and port")]
    [InlineData("127.0.0.1", "is not an IP address and port")]
    public async Task A_metrics_endpoint_off_the_loopback_or_without_a_port_is_refused_at_start(string endPoint, string says)
    {
        (int code, string output) = await ReplicatorProcess.RunAsync("witness", "--listen", "127.0.0.1:1", "--state-dir", Path.GetTempPath(), "--insecure-link", "--metrics", endPoint);

        Assert.Equal(2, code);
        Assert.Contains(says, output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_metrics_port_in_use_stops_the_start_with_one_clear_line()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        int port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        string state = Path.Combine(Path.GetTempPath(), $"metrics-{Guid.NewGuid():N}");

        (int code, string output) = await ReplicatorProcess.RunAsync("witness", "--listen", $"127.0.0.1:{ReplicatorProcess.FreePort()}", "--state-dir", state, "--insecure-link", "--metrics", $"127.0.0.1:{port}");

        Assert.Equal(1, code);
        Assert.Contains($"--metrics 127.0.0.1:{port}: metrics cannot be served there", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
    }

    /// <summary>
    /// Scrapes until <paramref name="metric"/> satisfies <paramref name="wanted"/>. Each scrape is
    /// fresh and every value asked for is recorded before the command the test waited on answered,
    /// so the first scrape should do; a few more only guard against a gauge read mid-update.
    /// </summary>
    private static async Task<string> ScrapeUntilAsync(int port, string metric, Func<double, bool> wanted)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        string text = string.Empty;
        for (int attempt = 0; attempt < 5; attempt++)
        {
            text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"));
            if (TryValue(text, metric, out double value) && wanted(value))
            {
                return text;
            }
        }

        throw new InvalidOperationException($"{metric} never reached the value wanted; the last scrape:\n{text}");
    }

    private static double Value(string scrape, string metric) =>
        TryValue(scrape, metric, out double value) ? value : throw new InvalidOperationException($"no {metric} in:\n{scrape}");

    /// <summary>The first sample of <paramref name="metric"/> (any labels) in a Prometheus text scrape.</summary>
    private static bool TryValue(string scrape, string metric, out double value)
    {
        foreach (Match m in Sample().Matches(scrape))
        {
            if (m.Groups["name"].Value == metric)
            {
                value = double.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
                return true;
            }
        }

        value = 0;
        return false;
    }

    [GeneratedRegex(@"^(?<name>[a-z_]+)(\{[^}]*\})? (?<value>[-+0-9.eE]+|NaN)", RegexOptions.Multiline)]
    private static partial Regex Sample();
}
