using Replicator.Hosts.Links;
using Replicator.Hosts.Secondary;
using Replicator.Protocol.Framing;
using Replicator.Protocol.Messages;

namespace Replicator.Sim.Nodes;

/// <summary>The host's actions in the simulated world: frames onto simulated connections, storage onto the simulated disks.</summary>
internal sealed partial class SecondaryShell
{
    /// <summary>The sender of an open link; null once it closed.</summary>
    private LinkSender? SenderOf(LinkId link) => _senders.TryGetValue(link, out LinkSender? sender) && sender.Connection.IsOpen ? sender : null;

    private sealed class Actions(SecondaryShell shell) : ISecondaryHostActions
    {
        private readonly int _incarnation = shell._incarnation;

        private bool Current => !shell.Down && _incarnation == shell._incarnation;

        public void Send<T>(LinkId link, FrameType type, T message)
        {
            if (Current && WitnessShell.IsWitnessLink(link))
            {
                shell._world.Witness?.FromNode(link, (Protocol.Witness.WitnessRequestMessage)(object)message!);
                return;
            }

            if (!Current || shell.SenderOf(link) is not { } sender)
            {
                return;
            }

            if (type == FrameType.Welcome && (shell.Host.IsPromoted || shell.IsPromoted))
            {
                // I6, checked at the action: a node that took over welcomes no primary, in this
                // incarnation or any after it.
                shell._world.Checker.Fail("I6: a promoted node welcomed a primary");
            }

            if (type == FrameType.Welcome && shell._world.Primary.IsMisdirected(sender.Connection))
            {
                shell._world.Checker.Fail("handshake: the secondary welcomed a primary of another pair, size, block size, largest request or protocol version");
            }

            if (type == FrameType.Welcome && shell._journalAppendsUnfinished > 0 && !shell.JournalFailed)
            {
                // What a welcome names is where the primary's new stream starts (I1, I7): an append
                // still under way could commit another epoch there.
                shell._world.Checker.Fail($"I7: a welcome named checkpoint {(message as WelcomeMessage)?.LastCommittedEpoch} while {shell._journalAppendsUnfinished} journal appends were unfinished");
            }

            if (message is AckMessage ack)
            {
                shell._world.Trace.Event("ack", ack.Epoch);
            }
            else if (message is RejectMessage reject)
            {
                shell._world.Trace.Event("reject", reject.Epoch);
                shell._world.Trace.Note(() => $"secondary rejected epoch {reject.Epoch}: {reject.Reason}");
                shell._world.EpochRejected(reject.Reason);
            }

            sender.Control(type, message);
        }

        public void Close(LinkId link, string reason, bool fenced = false)
        {
            if (Current && WitnessShell.IsWitnessLink(link))
            {
                shell._world.Witness?.CloseFromNode(link);
                int incarnation = _incarnation;
                shell._world.Clock.After(0, () => shell.OnWitnessClosed(incarnation, link, reason));
                return;
            }

            if (!Current || shell.SenderOf(link) is not { } sender)
            {
                return;
            }

            // Why, then the close, after what was already sent (as the daemon's connection does).
            sender.Control(FrameType.Error, new ErrorMessage { Reason = reason, Fenced = fenced });
            shell._world.Network.CloseAfterInFlight(sender.Connection, reason);
        }

        public void RunStorage(in SecondaryStorageOperation operation)
        {
            if (Current)
            {
                shell.Enqueue(operation);
            }
        }

        public void Promoted(long epoch)
        {
            if (Current)
            {
                shell.OnPromoted(epoch);
            }
        }

        public void ConnectWitness(TimeSpan timeout)
        {
            if (Current)
            {
                (shell._world.Witness ?? throw new InvalidOperationException("the host asked for a witness the world has none of")).Connect(WitnessSide.Secondary, shell, _incarnation, timeout);
            }
        }

        /// <summary>The fence command: a simulated STONITH of the primary's host (<see cref="SecondaryShell.RunFence"/>).</summary>
        public void RunFence(FenceRequest request)
        {
            if (Current)
            {
                shell.RunFence(_incarnation);
            }
        }

        public void Halt(string reason)
        {
            if (Current)
            {
                shell._world.Clock.After(0, () => shell.FailStop(reason));
            }
        }

        // The operator's failover the witness refused: the world's operator asks again later.
        public void PromotionRefused(string reason)
        {
            if (Current)
            {
                shell._world.Trace.Note(() => $"the witness refused the operator's failover: {reason}");
            }
        }
    }
}
