using Microsoft.Extensions.Time.Testing;
using Replicator.Hosts.Secondary;
using Replicator.Runtime.Secondary;

namespace Replicator.Runtime.Tests.Secondary;

/// <summary>The fence command: its verdict is its exit code, its output is bounded, and it is killed past its timeout.</summary>
public sealed class FenceCommandRunnerTests
{
    private static FenceRequest Request(string command, TimeSpan? timeout = null) =>
        new(command, "pair-1", "10.0.0.1:7700", "00000000000000ab", timeout ?? TimeSpan.FromMinutes(2));

    [Fact]
    public async Task Exit_zero_succeeds_and_the_old_primary_s_identity_is_in_its_environment()
    {
        FenceOutcome outcome = await FenceCommandRunner.RunAsync(Request("echo \"$REPLICATOR_PAIR_ID $REPLICATOR_PEER $REPLICATOR_GENERATION\""), TimeProvider.System, CancellationToken.None);
        Assert.True(outcome.Succeeded);
        Assert.Equal("exit 0: pair-1 10.0.0.1:7700 00000000000000ab", outcome.Detail);
    }

    [Fact]
    public async Task Any_other_exit_fails_and_only_the_tail_of_a_flood_of_output_is_kept()
    {
        FenceOutcome outcome = await FenceCommandRunner.RunAsync(Request("head -c 4000000 /dev/zero | tr '\\0' x; echo; echo 'no such device' >&2; exit 3"), TimeProvider.System, CancellationToken.None);
        Assert.False(outcome.Succeeded);
        Assert.Equal("exit 3: no such device", outcome.Detail);
    }

    [Fact]
    public async Task A_command_that_outlives_its_timeout_is_killed_and_fails()
    {
        var time = new FakeTimeProvider();
        Task<FenceOutcome> running = FenceCommandRunner.RunAsync(Request("exec sleep 600", TimeSpan.FromSeconds(30)), time, CancellationToken.None);
        time.Advance(TimeSpan.FromSeconds(31));
        FenceOutcome outcome = await running.WaitAsync(TimeSpan.FromMinutes(1));
        Assert.False(outcome.Succeeded);
        Assert.Contains("still running after 30000 ms: killed", outcome.Detail, StringComparison.Ordinal);
    }
}
