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
    [InlineData(NbdCommand.WriteZeroes, NbdCommandFlags.FastZero | NbdCommandFlags.NoHole, 0, 512, NbdError.None)]
    [InlineData(NbdCommand.Trim, NbdCommandFlags.FastZero, 0, 512, NbdError.Invalid)] // FAST_ZERO is for write-zeroes only
    [InlineData(NbdCommand.Cache, NbdCommandFlags.None, 0, 512, NbdError.None)]
    [InlineData(NbdCommand.Cache, NbdCommandFlags.None, 0, Size, NbdError.None)] // no payload: not bound by the maximum
    [InlineData(NbdCommand.Cache, NbdCommandFlags.None, Size - 512, 1024, NbdError.Invalid)]
    [InlineData(NbdCommand.Read, NbdCommandFlags.DontFragment, 0, 512, NbdError.Invalid)] // DF without structured replies
    [InlineData(NbdCommand.BlockStatus, NbdCommandFlags.None, 0, 512, NbdError.Invalid)] // no context selected
    [InlineData((NbdCommand)100, NbdCommandFlags.None, 0, 512, NbdError.Invalid)]
    public void Requests_are_judged_by_the_protocols_error_choices(NbdCommand command, NbdCommandFlags flags, ulong offset, uint length, NbdError expected)
    {
        var validator = new NbdRequestValidator(Size, Max, readOnly: false, default);

        Assert.Equal(expected, validator.Validate(new NbdRequest(flags, command, 1, offset, length)));
    }

    [Theory]
    [InlineData(NbdCommand.Read, NbdCommandFlags.DontFragment, 0, 512, NbdError.None)]
    [InlineData(NbdCommand.Write, NbdCommandFlags.DontFragment, 0, 512, NbdError.Invalid)] // DF is for reads only
    [InlineData(NbdCommand.BlockStatus, NbdCommandFlags.None, 0, Size, NbdError.None)] // not bound by the maximum
    [InlineData(NbdCommand.BlockStatus, NbdCommandFlags.RequestOne | NbdCommandFlags.Fua, 512, 512, NbdError.None)]
    [InlineData(NbdCommand.BlockStatus, NbdCommandFlags.NoHole, 0, 512, NbdError.Invalid)]
    [InlineData(NbdCommand.BlockStatus, NbdCommandFlags.None, Size - 512, 1024, NbdError.Invalid)]
    [InlineData(NbdCommand.BlockStatus, NbdCommandFlags.None, 0, 0, NbdError.Invalid)]
    [InlineData(NbdCommand.BlockStatus, NbdCommandFlags.None, 100, 512, NbdError.Invalid)]
    public void Structured_replies_and_the_allocation_context_open_DF_and_block_status(NbdCommand command, NbdCommandFlags flags, ulong offset, uint length, NbdError expected)
    {
        var validator = new NbdRequestValidator(Size, Max, readOnly: false, new NegotiatedFeatures(StructuredReplies: true, AllocationContext: true));

        Assert.Equal(expected, validator.Validate(new NbdRequest(flags, command, 1, offset, length)));
    }

    [Theory]
    [InlineData(NbdCommand.Write, NbdError.NotPermitted)]
    [InlineData(NbdCommand.WriteZeroes, NbdError.NotPermitted)]
    [InlineData(NbdCommand.Trim, NbdError.NotPermitted)]
    [InlineData(NbdCommand.Read, NbdError.None)]
    [InlineData(NbdCommand.Cache, NbdError.None)]
    public void A_read_only_export_refuses_only_changes(NbdCommand command, NbdError expected)
    {
        var validator = new NbdRequestValidator(Size, Max, readOnly: true, default);

        Assert.Equal(expected, validator.Validate(new NbdRequest(NbdCommandFlags.None, command, 1, 0, 512)));
    }

    [Fact]
    public void A_read_only_export_refuses_FAST_ZERO_as_a_flag_it_never_advertised() =>
        Assert.Equal(NbdError.Invalid, new NbdRequestValidator(Size, Max, readOnly: true, default).Validate(new NbdRequest(NbdCommandFlags.FastZero, NbdCommand.WriteZeroes, 1, 0, 512)));
}
