namespace Replicator.Protocol.Framing;

/// <summary>The type byte of a frame. Control messages are MessagePack bodies; <see cref="Mirror"/> is a fixed header plus raw bytes.</summary>
public enum FrameType : byte
{
    /// <summary>Primary → secondary, first frame on a link: who I am and what I protect.</summary>
    Hello = 1,

    /// <summary>Secondary → primary: the handshake is accepted; carries the secondary's state and buffer bound.</summary>
    Welcome = 2,

    /// <summary>Primary → secondary: one mirrored request (<see cref="MirrorHeader"/> + payload).</summary>
    Mirror = 3,

    /// <summary>Primary → secondary: closes an epoch, with the VM snapshot.</summary>
    Checkpoint = 4,

    /// <summary>Secondary → primary: an epoch is committed.</summary>
    Ack = 5,

    /// <summary>Secondary → primary: buffer space freed.</summary>
    Credit = 6,

    /// <summary>Either way: I am alive; carries the sender's progress.</summary>
    Heartbeat = 7,

    /// <summary>Secondary → primary: an epoch was refused and why.</summary>
    Reject = 8,

    /// <summary>Either way, last frame before closing: why the link is being closed.</summary>
    Error = 9,

    /// <summary>Primary → secondary, first after <see cref="Welcome"/> on a link that resyncs: where the new stream begins.</summary>
    ResyncStart = 10,

    /// <summary>Secondary → primary: what comparing one verify record with its image found.</summary>
    VerifyResult = 11,

    /// <summary>
    /// Primary → secondary, after a last checkpoint it acknowledged: this primary takes no more
    /// writes and hands over; take over at that checkpoint (a planned switchover).
    /// </summary>
    Switchover = 12,

    /// <summary>
    /// A node → its witness: a lease (a primary may acknowledge guest writes of its generation), a
    /// vote (a secondary may promote itself), or presence (a secondary is alive), with the node's generations.
    /// </summary>
    WitnessRequest = 13,

    /// <summary>The witness → a node: the verdict on a <see cref="WitnessRequest"/>, echoing when it was sent.</summary>
    WitnessAnswer = 14,
}
