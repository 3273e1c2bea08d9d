namespace Replicator.Core.Primary;

/// <summary>Where the primary is in its checkpoint cycle.</summary>
public enum PrimaryPhase
{
    /// <summary>Admitting guest requests into the current epoch.</summary>
    Running,

    /// <summary>Admission stopped; waiting for the epoch's in-flight requests to complete.</summary>
    Draining,

    /// <summary>Drained; waiting for the VM state capture.</summary>
    Capturing,
}
