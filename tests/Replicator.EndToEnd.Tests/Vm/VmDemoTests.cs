namespace Replicator.EndToEnd.Tests.Vm;

public class VmDemoTests
{
    [VmFact]
    public async Task The_vm_demo_resumes_the_real_guest_to_a_passing_verdict()
    {
        (int code, string output) = await ReplicatorProcess.RunAsync("demo", "--vm", "--seed", "1");

        Assert.True(code == 0, output);
        Assert.Contains("verdict: PASS", output, StringComparison.Ordinal);
        Assert.Matches(@"checkpoints +[1-9]\d* acknowledged", output);
        Assert.Contains("the guest runs again from checkpoint", output, StringComparison.Ordinal);
        // The demo's own RAM files are gone (a bench running beside it has others).
        Assert.Empty(Directory.GetFiles("/dev/shm", "replicator-demo-vm-*.ram"));
    }

    [Fact]
    public async Task The_vm_demo_is_not_an_in_process_one()
    {
        (int code, string output) = await ReplicatorProcess.RunAsync("demo", "--vm", "--in-process");

        Assert.NotEqual(0, code);
        Assert.Contains("does not go with --in-process", output, StringComparison.Ordinal);
    }
}
