using Replicator.Cli;

return args switch
{
    ["demo", .. var rest] => DemoCommand.Run(rest, Console.Out),
    ["--help" or "-h" or "help"] => Usage(Console.Out, 0),
    _ => Usage(Console.Error, 2),
};

static int Usage(TextWriter to, int exitCode)
{
    to.WriteLine("usage: replicator demo [--seed N] [--requests N]");
    to.WriteLine();
    to.WriteLine("  demo   run a protected guest on an in-process primary/secondary pair, kill the");
    to.WriteLine("         primary at a random point, fail over, and verify the result (I1, I2, I5)");
    return exitCode;
}
