using Replicator.Nbd.Server;
using Replicator.Nbd.Tests.Support;

namespace Replicator.Nbd.Tests.Server;

public class ServerInFlightBudgetTests
{
    [Fact]
    public async Task A_request_that_would_pass_the_bound_waits_until_bytes_come_back()
    {
        int waits = 0;
        var budget = new ServerInFlightBudget(1000, () => waits++);
        Assert.True(budget.EnterAsync(600, CancellationToken.None).IsCompletedSuccessfully);
        Assert.True(budget.EnterAsync(400, CancellationToken.None).IsCompletedSuccessfully);

        Task third = budget.EnterAsync(1, CancellationToken.None);
        Assert.False(third.IsCompleted);
        Assert.Equal(1, waits);

        budget.Exit(400);
        await third.WaitAsync(Deadline.Wait);
        Assert.Equal(601, budget.Bytes);
        Assert.Equal(1000, budget.PeakBytes);
    }

    [Fact]
    public async Task Waiters_go_in_arrival_order_so_a_large_one_is_not_passed_over_by_small_ones()
    {
        var budget = new ServerInFlightBudget(1000);
        await budget.EnterAsync(900, CancellationToken.None);
        Task large = budget.EnterAsync(500, CancellationToken.None);
        Task small = budget.EnterAsync(50, CancellationToken.None);

        // The small one would fit now, but the large one came first.
        Assert.False(small.IsCompleted);
        budget.Exit(900);
        await Task.WhenAll(large, small).WaitAsync(Deadline.Wait);
        Assert.Equal(550, budget.Bytes);
    }

    [Fact]
    public async Task A_request_larger_than_the_bound_runs_alone_once_nothing_else_is_held()
    {
        var budget = new ServerInFlightBudget(1000);
        await budget.EnterAsync(10, CancellationToken.None);
        Task huge = budget.EnterAsync(5000, CancellationToken.None);
        Task after = budget.EnterAsync(10, CancellationToken.None);
        Assert.False(huge.IsCompleted);

        budget.Exit(10);
        await huge.WaitAsync(Deadline.Wait);
        Assert.False(after.IsCompleted);

        budget.Exit(5000);
        await after.WaitAsync(Deadline.Wait);
        Assert.Equal(10, budget.Bytes);
    }

    [Fact]
    public async Task A_canceled_waiter_takes_nothing_and_no_longer_holds_back_those_behind_it()
    {
        var budget = new ServerInFlightBudget(1000);
        await budget.EnterAsync(900, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        Task large = budget.EnterAsync(500, cancel.Token);
        Task small = budget.EnterAsync(100, CancellationToken.None);
        Assert.False(small.IsCompleted);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => large);
        await small.WaitAsync(Deadline.Wait);
        Assert.Equal(1000, budget.Bytes);
    }

    [Fact]
    public async Task A_connection_s_only_request_enters_past_the_bound_and_counts_against_it()
    {
        var budget = new ServerInFlightBudget(1000);
        await budget.EnterAsync(1000, CancellationToken.None);

        budget.EnterRegardless(300);
        Assert.Equal(1300, budget.Bytes);
        Task waiting = budget.EnterAsync(100, CancellationToken.None);
        Assert.False(waiting.IsCompleted);

        budget.Exit(1000);
        await waiting.WaitAsync(Deadline.Wait);
        Assert.Equal(400, budget.Bytes);
        Assert.Equal(1300, budget.PeakBytes);
    }

    [Fact]
    public async Task Try_enter_takes_only_what_fits_and_never_passes_a_waiter()
    {
        var budget = new ServerInFlightBudget(1000);
        Assert.True(budget.TryEnter(900));
        Assert.False(budget.TryEnter(200));
        Task waiting = budget.EnterAsync(200, CancellationToken.None);

        Assert.False(budget.TryEnter(50)); // it would fit, but the waiter came first
        budget.Exit(900);
        await waiting.WaitAsync(Deadline.Wait);
        Assert.Equal(200, budget.Bytes);
    }

    [Fact]
    public async Task Idle_means_every_byte_is_back()
    {
        var budget = new ServerInFlightBudget(1000);
        await budget.EnterAsync(10, CancellationToken.None);
        await budget.EnterAsync(20, CancellationToken.None);
        Task idle = budget.WhenIdleAsync(CancellationToken.None);

        budget.Exit(10);
        Assert.False(idle.IsCompleted);
        budget.Exit(20);
        await idle.WaitAsync(Deadline.Wait);
        Assert.True(budget.WhenIdleAsync(CancellationToken.None).IsCompletedSuccessfully);
    }
}
