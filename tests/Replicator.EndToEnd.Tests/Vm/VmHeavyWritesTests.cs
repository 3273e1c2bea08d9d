using Replicator.Qemu.Guests;
using Xunit.Abstractions;

namespace Replicator.EndToEnd.Tests.Vm;

/// <summary>
/// Checkpoints of a guest that writes its disk as fast as it can (8 MiB at a time, O_DIRECT) beside
/// its counter: each is acknowledged while the writes go on, and a failover after them resumes the
/// guest as for a quiet one.
/// </summary>
public sealed class VmHeavyWritesTests(ITestOutputHelper output)
{
    private const int Checkpoints = 20;

    // Passes that must end while the checkpoints are taken: the writes ran across them, not beside one.
    private const long PassesAcross = 2;

    [VmFact]
    public async Task Checkpoints_of_a_guest_writing_heavily_are_acknowledged_and_it_resumes_from_the_last()
    {
        await using VmPair pair = await VmPair.StartAsync(heavyWrites: true);
        await GuestConsole.WaitForHeavyPassAsync(pair.PrimaryConsole, 1, "a heavy-write pass on the primary", pair.Primary);
        await GuestConsole.WaitForCountersAsync(pair.PrimaryConsole, 20, "the guest counting on the primary", pair.Primary);

        // Checkpoints, each returning once acknowledged, until enough were taken and the writes
        // passed over the disk again meanwhile (a checkpoint and a pass have no fixed ratio); the
        // bound only ends a run in which the writes stopped.
        using var bound = new CancellationTokenSource(GuestConsole.Bound);
        long passesBefore = CountingGuest.HeavyPasses(pair.PrimaryConsole);
        long firstAcknowledged = await pair.Daemons.CheckpointAsync();
        long acknowledged = firstAcknowledged;
        int taken = 1;
        while ((taken < Checkpoints || CountingGuest.HeavyPasses(pair.PrimaryConsole) < passesBefore + PassesAcross) && !bound.IsCancellationRequested)
        {
            long next = await pair.Daemons.CheckpointAsync();
            Assert.True(next > acknowledged, $"checkpoint {next} acknowledged after {acknowledged}");
            acknowledged = next;
            taken++;
        }

        long passesAfter = CountingGuest.HeavyPasses(pair.PrimaryConsole);
        output.WriteLine($"{taken} checkpoints acknowledged ({firstAcknowledged} to {acknowledged}) while heavy passes {passesBefore} to {passesAfter} ended");
        Assert.True(taken >= Checkpoints, $"{taken} checkpoints acknowledged within {GuestConsole.Bound.TotalMinutes} minutes");
        Assert.True(passesAfter >= passesBefore + PassesAcross, $"heavy passes {passesBefore} to {passesAfter} across {taken} checkpoints (the guest's writes stopped)");
        Assert.Empty(CountingGuest.FailedWrites(pair.PrimaryConsole));

        await ResumedGuestCheck.FailOverAndCheckAsync(pair, output);
    }
}
