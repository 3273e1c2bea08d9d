using Replicator.Nbd.Protocol;
using Replicator.Nbd.Server;

namespace Replicator.Nbd.Tests.Server;

public class NbdRequestValidatorTests
{
    private const long Size = 1 << 20;
    private const int Max = 64 << 10;

    [Theory]
    [InlineData(NbdCommand.Read, NbdCommandFlags.None, 0, 512, NbdError.None)]
    [InlineData(NbdCommand.Read, NbdCommandFlags.None, Size - Max, Max, NbdError.None)] // the last bytes, the largest request
    [InlineData(NbdCommand.Write, NbdCommandFlags.Fua, 512, 4096, NbdError.None)]
    [InlineData(NbdCommand.WriteZeroes, NbdCommandFlags.Fua | NbdCommandFlags.NoHole, 0, Max, NbdError.None)]
    [InlineData(NbdCommand.Trim, NbdCommandFlags.None, 0, Size, NbdError.None)] // trims are not bound by the maximum
    [InlineData(NbdCommand.WriteZeroes, NbdCommandFlags.Fua, 0, Size, NbdError.None)] // nor are write-zeroes: no payload
    [InlineData(NbdCommand.WriteZeroes, NbdCommandFlags.None, 512, Size, NbdError.NoSpace)] // long and past the end: refused whole
    [InlineData(NbdCommand.Flush, NbdCommandFlags.Fua, 0, 0, NbdError.None)]
    [InlineData(NbdCommand.Read, NbdCommandFlags.None, Size, 512, NbdError.Invalid)]
    [InlineData(NbdCommand.Write, NbdCommandFlags.None, Size, 512, NbdError.NoSpace)]
    [InlineData(NbdCommand.WriteZeroes, NbdCommandFlags.None, Size - 512, 1024, NbdError.NoSpace)]
    [InlineData(NbdCommand.Trim, NbdCommandFlags.None, Size - 512, 1024, NbdError.Invalid)]
    [InlineData(NbdCommand.Trim, NbdCommandFlags.None, 0, Size + 512, NbdError.Invalid)]
    [InlineData(NbdCommand.Read, NbdCommandFlags.None, 0, Max + 512, NbdError.Invalid)]
    [InlineData(NbdCommand.Write, NbdCommandFlags.None, 0, Max + 512, NbdError.Invalid)]
    [InlineData(NbdCommand.Read, NbdCommandFlags.None, 1, 512, NbdError.Invalid)]
    [InlineData(NbdCommand.Write, NbdCommandFlags.None, 0, 511, NbdError.Invalid)]
    [InlineData(NbdCommand.Trim, NbdCommandFlags.None, 0, 0, NbdError.Invalid)]
    [InlineData(NbdCommand.Flush, NbdCommandFlags.None, 0, 512, NbdError.Invalid)]
    [InlineData(NbdCommand.Read, NbdCommandFlags.NoHole, 0, 512, NbdError.Invalid)]
    [InlineData(NbdCommand.WriteZeroes, NbdCommandFlags.FastZero, 0, 512, NbdError.Invalid)]
    [InlineData(NbdCommand.Cache, NbdCommandFlags.None, 0, 512, NbdError.Invalid)]
    [InlineData((NbdCommand)100, NbdCommandFlags.None, 0, 512, NbdError.Invalid)]
    public void Requests_are_judged_by_the_protocols_error_choices(NbdCommand command, NbdCommandFlags flags, ulong offset, uint length, NbdError expected)
    {
        var validator = new NbdRequestValidator(Size, Max, readOnly: false);

        Assert.Equal(expected, validator.Validate(new NbdRequest(flags, command, 1, offset, length)));
    }

    [Theory]
    [InlineData(NbdCommand.Write, NbdError.NotPermitted)]
    [InlineData(NbdCommand.WriteZeroes, NbdError.NotPermitted)]
    [InlineData(NbdCommand.Trim, NbdError.NotPermitted)]
    [InlineData(NbdCommand.Read, NbdError.None)]
    public void A_read_only_export_refuses_only_changes(NbdCommand command, NbdError expected)
    {
        var validator = new NbdRequestValidator(Size, Max, readOnly: true);

        Assert.Equal(expected, validator.Validate(new NbdRequest(NbdCommandFlags.None, command, 1, 0, 512)));
    }
}
