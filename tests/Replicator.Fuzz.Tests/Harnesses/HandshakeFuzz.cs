using System.Buffers;
using CsCheck;
using Replicator.Fuzz.Tests.Infrastructure;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Generations;
using Replicator.Protocol.Messages;
using Replicator.Protocol.Pages;
using Xunit.Abstractions;

namespace Replicator.Fuzz.Tests.Harnesses;

/// <summary>
/// <see cref="Handshake.Check"/> and <see cref="Handshake.CheckWelcome"/> against a fixed local
/// identity: arbitrary hello and welcome contents (every field near, at and far from the local
/// value, null identities and pair ids, undefined roles, data generations well formed, blank, null,
/// with empty ids or too long a history), and hello/welcome bodies off the wire,
/// mutated and decoded. The verdict is exactly the one the handshake's rules give, with a reason
/// whenever it is not an acceptance, and nothing throws.
/// </summary>
public class HandshakeFuzz(ITestOutputHelper output)
{
    public const long SmokeInputs = 200_000;

    private static readonly PairIdentity Local = CorpusGenerator.LocalIdentity();

    internal sealed record Peer(int Version, PairIdentity? Identity, NodeRole Role, DataGenerations? Generations, FormerPrimaryWrites? Writes = null);

    private static Gen<T> Near<T>(T local, Gen<T> any, params T[] special) =>
        Gen.Frequency((6, Gen.Const(local)), (2, Gen.OneOf(special)), (1, any));

    private static Gen<Peer> Peers()
    {
        Gen<string?> pairId = Gen.Frequency(
            (6, Gen.Const<string?>(Local.PairId)),
            (1, Gen.Const((string?)null)),
            (2, Gen.OneOf<string?>("", "pair-A", "pair-a ", "pair-a\0", "pair-b", "pαir-a")),
            (1, Gen.String.Select(s => (string?)s)));
        Gen<PairIdentity?> identity = Gen.Frequency(
            (1, Gen.Const((PairIdentity?)null)),
            (12, Gen.Select(
                pairId,
                Near(Local.ImageBytes, Gen.Long, 0, -Local.ImageBytes, Local.ImageBytes + 4096, long.MaxValue, long.MinValue),
                Near(Local.BlockSize, Gen.Int, 0, 512, -4096, int.MaxValue),
                Near(Local.MaxRequestBytes, Gen.Int, 0, Local.MaxRequestBytes / 2, Local.MaxRequestBytes * 2, int.MinValue),
                (id, image, block, request) => (PairIdentity?)new PairIdentity { PairId = id!, ImageBytes = image, BlockSize = block, MaxRequestBytes = request })));
        Gen<DataGenerations?> generations = Gen.Frequency(
            (6, Gen.Long.Where(id => id != 0).Select(id => (DataGenerations?)DataGenerations.None.Begin(new GenerationMark { Id = id, Cause = GenerationCause.Created }))),
            (2, Gen.Const((DataGenerations?)DataGenerations.None)),
            (1, Gen.Const((DataGenerations?)null)),
            (1, Gen.Const((DataGenerations?)new DataGenerations { Current = new GenerationMark() })),
            (1, Gen.Int[0, 40].Select(n => (DataGenerations?)new DataGenerations { Current = new GenerationMark { Id = 1 }, History = Enumerable.Range(2, n).Select(i => new GenerationMark { Id = i % 7 }).ToList() })));
        // A former primary's writes: none (most welcomes), unknown, or ranges — in order and within
        // the image, or not (out of order, touching, empty, past the end, an odd count, too many).
        Gen<long> place = Gen.Frequency((4, Gen.Long[0, Local.ImageBytes]), (1, Gen.Long), (1, Gen.OneOf(Gen.Const(0L), Gen.Const(Local.ImageBytes), Gen.Const(Local.ImageBytes - 4096), Gen.Const(-1L))));
        Gen<FormerPrimaryWrites?> writes = Gen.Frequency(
            (4, Gen.Const((FormerPrimaryWrites?)null)),
            (1, Gen.Const((FormerPrimaryWrites?)FormerPrimaryWrites.Unknown("no log"))),
            (1, place.Array[0, 4].Select(r => (FormerPrimaryWrites?)new FormerPrimaryWrites { Known = false, Ranges = r })),
            (4, place.Array[0, 12].Select(r => (FormerPrimaryWrites?)new FormerPrimaryWrites { Known = true, Generation = 1, Ranges = r })),
            (2, Gen.Int[0, 6].Select(n => (FormerPrimaryWrites?)FormerPrimaryWrites.From(1, 0, Enumerable.Range(0, n).Select(i => ((long)i * 8192, 4096L)), Local.ImageBytes))),
            (1, Gen.Const((FormerPrimaryWrites?)new FormerPrimaryWrites { Known = true, Ranges = Enumerable.Range(0, FormerPrimaryWrites.MaxRanges + 1).SelectMany(i => new[] { (long)i * 2, 1L }).ToArray() })));
        return Gen.Select(
            Near(Handshake.ProtocolVersion, Gen.Int, 0, 2, 3, 5, -3, int.MaxValue),
            identity,
            Near(NodeRole.Secondary, Gen.Int.Select(r => (NodeRole)r), NodeRole.Primary, NodeRole.Unknown, (NodeRole)3, (NodeRole)(-1)),
            generations,
            writes,
            (version, id, role, gens, former) => new Peer(version, id, role, gens, former));
    }

    [Fact]
    public void Any_hello_or_welcome_gets_exactly_the_verdict_the_rules_give()
    {
        FuzzRunner.Run("handshake", Peers(), Check, p => $"version {p.Version}, role {(int)p.Role}, identity {(p.Identity is null ? "null" : $"'{p.Identity.PairId}' {p.Identity.ImageBytes} {p.Identity.BlockSize} {p.Identity.MaxRequestBytes}")}, generations {(p.Generations is null ? "null" : $"{p.Generations.Current?.Id} + {p.Generations.History.Count}")}, writes {(p.Writes is null ? "none" : $"{p.Writes.Known} [{string.Join(' ', p.Writes.Ranges.Take(24))}]")}", SmokeInputs, output);
    }

    [Fact]
    public void Any_hello_or_welcome_body_off_the_wire_gets_exactly_the_verdict_the_rules_give()
    {
        var format = new InputFormat { Tokens = ControlCodecFuzz.MessagePackTokens, MaxRandomBytes = 64, MaxBytes = 4096 };
        FuzzRunner.Run("handshake-bytes", Infrastructure.Inputs.From(Corpus.Bytes(CorpusGenerator.HandshakeTarget), format), CheckBytes, body => Hex.Of(body), SmokeInputs / 4, output);
    }

    private static string Check(Peer peer)
    {
        string hello = Expect("hello", Handshake.Check(peer.Version, peer.Identity, Local, peer.Generations), ExpectedForHello(peer.Version, peer.Identity, peer.Generations));
        var welcome = new WelcomeMessage { ProtocolVersion = peer.Version, Identity = peer.Identity!, Role = peer.Role, Generations = peer.Generations!, FormerPrimaryWrites = peer.Writes };
        string welcomed = Expect("welcome", Handshake.CheckWelcome(welcome, Local, PageTerms.Default), ExpectedForWelcome(welcome));
        return $"hello {hello}, welcome {welcomed}";
    }

    private static string CheckBytes(byte[] body)
    {
        var frame = new Frame(new FrameHeader(FrameType.Hello, 0, body.Length, 0, 0), new ReadOnlySequence<byte>(body));
        string hello = "undecodable";
        string welcomed = "undecodable";
        try
        {
            HelloMessage message = ControlCodec.Decode<HelloMessage>(frame, FrameType.Hello);
            hello = Expect("hello", Handshake.Check(message.ProtocolVersion, message.Identity, Local, message.Generations), ExpectedForHello(message.ProtocolVersion, message.Identity, message.Generations));
        }
        catch (ProtocolViolationException)
        {
        }

        try
        {
            WelcomeMessage message = ControlCodec.Decode<WelcomeMessage>(frame with { Header = frame.Header with { Type = FrameType.Welcome } }, FrameType.Welcome);
            welcomed = Expect("welcome", Handshake.CheckWelcome(message, Local, PageTerms.Default), ExpectedForWelcome(message));
        }
        catch (ProtocolViolationException)
        {
        }

        return $"hello {hello}, welcome {welcomed}";
    }

    private static string Expect(string what, HandshakeVerdict verdict, HandshakeOutcome expected)
    {
        if (verdict.Outcome != expected)
        {
            throw new FuzzPropertyException("verdict", $"{what}: {verdict.Outcome} ({verdict.Reason}), the rules give {expected}");
        }

        if (verdict.IsAccepted != (verdict.Reason is null) || verdict.Reason?.Length == 0)
        {
            throw new FuzzPropertyException("reason", $"{what}: {verdict.Outcome} with reason '{verdict.Reason}'");
        }

        return expected.ToString();
    }

    /// <summary>Same version, same pair, same image size, block size and largest request: one pair.</summary>
    private static bool Compatible(int version, PairIdentity? peer) =>
        version == Handshake.ProtocolVersion
        && peer is { PairId: not null }
        && string.Equals(peer.PairId, Local.PairId, StringComparison.Ordinal)
        && peer.ImageBytes == Local.ImageBytes
        && peer.BlockSize == Local.BlockSize
        && peer.MaxRequestBytes == Local.MaxRequestBytes;

    /// <summary>Data generations as the rules take them: present, no empty id, no longer a history than kept.</summary>
    private static bool WellFormed(DataGenerations? generations) =>
        generations is { History: not null }
        && generations.Current is null or { Id: not 0 }
        && generations.History.Count <= DataGenerations.MaxHistory
        && generations.History.All(m => m is { Id: not 0 });

    /// <summary>
    /// A former primary's writes as the rules take them: unknown ones name no ranges; known ones are
    /// offset and length pairs, at most <see cref="FormerPrimaryWrites.MaxRanges"/>, each non-empty,
    /// within the image, and after the previous one with a gap.
    /// </summary>
    private static bool WellFormed(FormerPrimaryWrites? writes)
    {
        if (writes is null)
        {
            return true;
        }

        long[] r = writes.Ranges;
        if (!writes.Known)
        {
            return r is { Length: 0 };
        }

        if (r is null || r.Length % 2 == 1 || r.Length / 2 > FormerPrimaryWrites.MaxRanges)
        {
            return false;
        }

        for (int i = 0; i < r.Length; i += 2)
        {
            bool inImage = r[i] >= 0 && r[i + 1] > 0 && r[i + 1] <= Local.ImageBytes && r[i] <= Local.ImageBytes - r[i + 1];
            bool afterPrevious = i == 0 || r[i] > r[i - 2] + r[i - 1];
            if (!inImage || !afterPrevious)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A primary of the pair, with well-formed data generations, passes; whose data is valid is the generation table's to say.</summary>
    private static HandshakeOutcome ExpectedForHello(int version, PairIdentity? peer, DataGenerations? generations) =>
        !Compatible(version, peer) || !WellFormed(generations) ? HandshakeOutcome.Incompatible
        : HandshakeOutcome.Accepted;

    /// <summary>A primary writes only to a node that follows; a promoted one fences it.</summary>
    private static HandshakeOutcome ExpectedForWelcome(WelcomeMessage welcome) =>
        !Compatible(welcome.ProtocolVersion, welcome.Identity) || !WellFormed(welcome.Generations) || !WellFormed(welcome.FormerPrimaryWrites) || !AnswersOffer(welcome) ? HandshakeOutcome.Incompatible
        : welcome.Role != NodeRole.Secondary ? HandshakeOutcome.Fenced
        : HandshakeOutcome.Accepted;

    /// <summary>The page terms a welcome may answer to the offer the harness's primary makes (<see cref="PageTerms.Default"/>): whole pages, or its encoding with no more cache than it offered.</summary>
    private static bool AnswersOffer(WelcomeMessage welcome) =>
        (welcome.PageEncoding == PageEncoding.None && welcome.PageCacheBytes == 0)
        || (welcome.PageEncoding == PageTerms.Default.Encoding && welcome.PageCacheBytes >= 0 && welcome.PageCacheBytes <= PageTerms.Default.CacheBytes);
}
