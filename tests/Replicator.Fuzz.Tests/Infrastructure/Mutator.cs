using System.Buffers.Binary;
using CsCheck;

namespace Replicator.Fuzz.Tests.Infrastructure;

/// <summary>An integer field of an input (a length, an offset, a type byte) that mutations aim at.</summary>
internal readonly record struct Field(int Offset, int Size, bool BigEndian);

/// <summary>What a harness knows of its format: where the fields of a valid input are, and tokens worth inserting.</summary>
internal sealed class InputFormat
{
    public Func<byte[], IReadOnlyList<Field>> Fields { get; init; } = _ => [];

    /// <summary>Byte strings with a meaning in the format (a MessagePack array header claiming 2^31 items, a magic).</summary>
    public byte[][] Tokens { get; init; } = [];

    /// <summary>Largest raw random input.</summary>
    public int MaxRandomBytes { get; init; } = 512;

    /// <summary>Largest input a mutation may produce (extensions stop there).</summary>
    public int MaxBytes { get; init; } = 256 << 10;
}

/// <summary>One edit of an input. Positions are drawn as raw numbers and taken modulo the input's length when applied.</summary>
internal abstract record Mutation
{
    public abstract byte[] Apply(byte[] input, IReadOnlyList<byte[]> corpus, InputFormat format);

    protected static int At(uint position, int length) => length == 0 ? 0 : (int)(position % (uint)length);
}

internal sealed record BitFlip(uint Position, int Bit) : Mutation
{
    public override byte[] Apply(byte[] input, IReadOnlyList<byte[]> corpus, InputFormat format)
    {
        if (input.Length == 0)
        {
            return input;
        }

        byte[] output = (byte[])input.Clone();
        output[At(Position, input.Length)] ^= (byte)(1 << Bit);
        return output;
    }
}

internal sealed record SetByte(uint Position, byte Value) : Mutation
{
    public override byte[] Apply(byte[] input, IReadOnlyList<byte[]> corpus, InputFormat format)
    {
        if (input.Length == 0)
        {
            return input;
        }

        byte[] output = (byte[])input.Clone();
        output[At(Position, input.Length)] = Value;
        return output;
    }
}

internal sealed record Truncate(uint Position) : Mutation
{
    public override byte[] Apply(byte[] input, IReadOnlyList<byte[]> corpus, InputFormat format) =>
        input[..At(Position, input.Length + 1)];
}

internal sealed record Insert(uint Position, byte[] Bytes) : Mutation
{
    public override byte[] Apply(byte[] input, IReadOnlyList<byte[]> corpus, InputFormat format)
    {
        if (input.Length + Bytes.Length > format.MaxBytes)
        {
            return input;
        }

        int at = At(Position, input.Length + 1);
        return [.. input.AsSpan(0, at), .. Bytes, .. input.AsSpan(at)];
    }
}

internal sealed record InsertToken(uint Position, uint Token) : Mutation
{
    public override byte[] Apply(byte[] input, IReadOnlyList<byte[]> corpus, InputFormat format) =>
        format.Tokens.Length == 0 ? input : new Insert(Position, format.Tokens[Token % format.Tokens.Length]).Apply(input, corpus, format);
}

internal sealed record Delete(uint Position, int Count) : Mutation
{
    public override byte[] Apply(byte[] input, IReadOnlyList<byte[]> corpus, InputFormat format)
    {
        int at = At(Position, input.Length + 1);
        int count = Math.Min(Count, input.Length - at);
        return [.. input.AsSpan(0, at), .. input.AsSpan(at + count)];
    }
}

/// <summary>Repeats a stretch of the input right after itself (a frame sent twice, an option repeated).</summary>
internal sealed record Repeat(uint Position, int Count) : Mutation
{
    public override byte[] Apply(byte[] input, IReadOnlyList<byte[]> corpus, InputFormat format)
    {
        int at = At(Position, input.Length + 1);
        int count = Math.Min(Count, input.Length - at);
        if (input.Length + count > format.MaxBytes)
        {
            return input;
        }

        return [.. input.AsSpan(0, at + count), .. input.AsSpan(at)];
    }
}

/// <summary>The front of this input, then the back of another corpus entry.</summary>
internal sealed record Splice(uint Other, uint Cut, uint OtherCut) : Mutation
{
    public override byte[] Apply(byte[] input, IReadOnlyList<byte[]> corpus, InputFormat format)
    {
        byte[] other = corpus[(int)(Other % (uint)corpus.Count)];
        int cut = At(Cut, input.Length + 1);
        int otherCut = At(OtherCut, other.Length + 1);
        byte[] output = [.. input.AsSpan(0, cut), .. other.AsSpan(otherCut)];
        return output.Length > format.MaxBytes ? input : output;
    }
}

/// <summary>
/// Sets an integer field: one the format names (a length, an offset) or any aligned spot, to an
/// interesting value (0, -1, the limits of each width, 2 GiB, the largest sector-aligned offset) or
/// to its old value moved by a little.
/// </summary>
internal sealed record EditField(uint Pick, int Size, bool BigEndian, uint ValueKind, int Delta) : Mutation
{
    public static readonly ulong[] Interesting =
    [
        0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x1FF, 0x200, 0x7FFF, 0x8000, 0xFFFF, 0x1_0000, 0x1_0001,
        0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000, 0x7FFF_FE00, 0xFFFF_FE00, 0x200_0000, 0x200_0001, 0x1000, 0x1_0020,
        0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF, 0x7FFF_FFFF_FFFF_FE00, 0xFFFF_FFFF_FFFF_FE00,
    ];

    public override byte[] Apply(byte[] input, IReadOnlyList<byte[]> corpus, InputFormat format)
    {
        IReadOnlyList<Field> fields = format.Fields(input);
        Field field = fields.Count > 0 && Pick % 4 != 0
            ? fields[(int)(Pick / 4 % (uint)fields.Count)]
            : new Field(At(Pick, Math.Max(1, input.Length - Size + 1)), Size, BigEndian);
        if (field.Offset + field.Size > input.Length)
        {
            return input;
        }

        byte[] output = (byte[])input.Clone();
        Span<byte> target = output.AsSpan(field.Offset, field.Size);
        ulong old = Read(target, field.BigEndian);
        ulong value = ValueKind % 3 == 0 ? old + (ulong)(long)Delta : Interesting[ValueKind / 3 % (uint)Interesting.Length];
        Write(target, field.BigEndian, value);
        return output;
    }

    private static ulong Read(ReadOnlySpan<byte> field, bool bigEndian)
    {
        Span<byte> wide = stackalloc byte[8];
        wide.Clear();
        if (bigEndian)
        {
            field.CopyTo(wide[(8 - field.Length)..]);
            return BinaryPrimitives.ReadUInt64BigEndian(wide);
        }

        field.CopyTo(wide);
        return BinaryPrimitives.ReadUInt64LittleEndian(wide);
    }

    private static void Write(Span<byte> field, bool bigEndian, ulong value)
    {
        Span<byte> wide = stackalloc byte[8];
        if (bigEndian)
        {
            BinaryPrimitives.WriteUInt64BigEndian(wide, value);
            wide[(8 - field.Length)..].CopyTo(field);
        }
        else
        {
            BinaryPrimitives.WriteUInt64LittleEndian(wide, value);
            wide[..field.Length].CopyTo(field);
        }
    }
}

/// <summary>CsCheck generators of inputs: corpus entries mutated, corpus entries as they are, and raw random bytes.</summary>
internal static class Inputs
{
    private static readonly Gen<uint> Position = Gen.UInt;

    public static readonly Gen<Mutation> Mutation = Gen.Frequency(
        (4, Gen.Select(Position, Gen.Int[0, 7], (p, b) => (Mutation)new BitFlip(p, b))),
        (3, Gen.Select(Position, Gen.Byte, (p, v) => (Mutation)new SetByte(p, v))),
        (2, Position.Select(p => (Mutation)new Truncate(p))),
        (2, Gen.Select(Position, Gen.Byte.Array[1, 64], (p, bytes) => (Mutation)new Insert(p, bytes))),
        (1, Gen.Select(Gen.UInt[uint.MaxValue, uint.MaxValue], Gen.Byte.Array[1, 256], (p, bytes) => (Mutation)new Insert(p, bytes))),
        (2, Gen.Select(Position, Gen.UInt, (p, t) => (Mutation)new InsertToken(p, t))),
        (2, Gen.Select(Position, Gen.Int[1, 64], (p, n) => (Mutation)new Delete(p, n))),
        (1, Gen.Select(Position, Gen.Int[1, 256], (p, n) => (Mutation)new Repeat(p, n))),
        (2, Gen.Select(Gen.UInt, Position, Position, (o, c, oc) => (Mutation)new Splice(o, c, oc))),
        (6, Gen.Select(Gen.UInt, Gen.OneOf(1, 2, 4, 8), Gen.Bool, Gen.UInt, Gen.Int[-16, 16], (pick, size, big, kind, delta) => (Mutation)new EditField(pick, size, big, kind, delta))));

    /// <summary>A corpus entry with one to <paramref name="maxMutations"/> mutations.</summary>
    public static Gen<byte[]> Mutated(IReadOnlyList<byte[]> corpus, InputFormat format, int maxMutations = 6) =>
        Gen.Select(Gen.Int[0, corpus.Count - 1], Mutation.Array[1, maxMutations], (index, mutations) =>
        {
            byte[] input = corpus[index];
            foreach (Mutation mutation in mutations)
            {
                input = mutation.Apply(input, corpus, format);
            }

            return input;
        });

    /// <summary>Mostly mutated seeds; some seeds as they are; some raw random bytes.</summary>
    public static Gen<byte[]> From(IReadOnlyList<byte[]> corpus, InputFormat format) =>
        Gen.Frequency(
            (16, Mutated(corpus, format)),
            (1, Gen.Int[0, corpus.Count - 1].Select(i => corpus[i])),
            (3, Gen.Byte.Array[0, format.MaxRandomBytes]));
}
