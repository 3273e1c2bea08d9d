namespace Replicator.Qemu.Guests;

/// <summary>The counting guest cannot be built here: the message says what is missing and which Debian package brings it.</summary>
public sealed class CountingGuestBuildException(string message) : Exception(message);
