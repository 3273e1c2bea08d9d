using Replicator.Nbd.Server;

namespace Replicator.Nbd.Tests.Server;

public class InFlightBudgetTests
{
    [Fact]
    public async Task A_request_beyond_the_count_waits_until_one_leaves()
    {
        var budget = new InFlightBudget(maxRequests: 64, maxBytes: long.MaxValue);
        for (int i = 0; i < 64; i++)
        {
            Assert.True(budget.EnterAsync(16, CancellationToken.None).IsCompletedSuccessfully);
        }

        Task waiting = budget.EnterAsync(16, CancellationToken.None);
        Assert.False(waiting.IsCompleted);

        budget.Exit(16);
        await waiting.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(64, budget.Requests);
    }

    [Fact]
    public async Task Bytes_are_bounded_but_one_request_larger_than_the_budget_runs_alone()
    {
        var budget = new InFlightBudget(maxRequests: 64, maxBytes: 1000);
        Assert.True(budget.EnterAsync(600, CancellationToken.None).IsCompletedSuccessfully);
        Task second = budget.EnterAsync(600, CancellationToken.None);
        Assert.False(second.IsCompleted);

        budget.Exit(600);
        await second.WaitAsync(TimeSpan.FromSeconds(60));
        Task huge = budget.EnterAsync(5000, CancellationToken.None);
        Assert.False(huge.IsCompleted);

        budget.Exit(600);
        await huge.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(1, budget.Requests);
    }

    [Fact]
    public async Task Idle_means_every_request_has_left()
    {
        var budget = new InFlightBudget(4, 1000);
        await budget.EnterAsync(10, CancellationToken.None);
        await budget.EnterAsync(10, CancellationToken.None);
        Task idle = budget.WhenIdleAsync(CancellationToken.None);

        budget.Exit(10);
        Assert.False(idle.IsCompleted);
        budget.Exit(10);
        await idle.WaitAsync(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task A_canceled_wait_takes_nothing_and_a_new_wait_may_follow()
    {
        var budget = new InFlightBudget(1, 1000);
        await budget.EnterAsync(10, CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        Task waiting = budget.EnterAsync(10, cancel.Token);

        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Task next = budget.EnterAsync(10, CancellationToken.None);
        budget.Exit(10);
        await next.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(1, budget.Requests);
    }

    [Fact]
    public async Task Alone_means_at_most_the_waiting_request_is_in_flight()
    {
        var budget = new InFlightBudget(4, 1000);
        await budget.EnterAsync(10, CancellationToken.None);
        Assert.True(budget.WhenAloneAsync(CancellationToken.None).IsCompletedSuccessfully);
        await budget.EnterAsync(10, CancellationToken.None);
        Task alone = budget.WhenAloneAsync(CancellationToken.None);

        Assert.False(alone.IsCompleted);
        budget.Exit(10);
        await alone.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(1, budget.Requests);
    }
}
