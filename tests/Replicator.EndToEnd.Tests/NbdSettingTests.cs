using System.Net;
using System.Net.Sockets;
using Replicator.Cli.Hosting;

namespace Replicator.EndToEnd.Tests;

/// <summary><c>--nbd</c>'s two forms, HOST:PORT and unix:PATH, as the daemons read them (the parse alone, no process).</summary>
public class NbdSettingTests
{
    [Fact]
    public void Unix_and_a_path_is_a_unix_socket()
    {
        var problems = new List<string>();

        EndPoint? endPoint = NodeSettings.ParseNbdEndPoint("unix:/run/replicator/disk.sock", problems);

        Assert.Empty(problems);
        Assert.Equal("/run/replicator/disk.sock", Assert.IsType<UnixDomainSocketEndPoint>(endPoint).ToString());
    }

    [Fact]
    public void A_relative_path_is_made_absolute_against_the_working_directory()
    {
        var problems = new List<string>();

        EndPoint? endPoint = NodeSettings.ParseNbdEndPoint("unix:run/disk.sock", problems);

        Assert.Empty(problems);
        Assert.Equal(Path.Combine(Environment.CurrentDirectory, "run", "disk.sock"), Assert.IsType<UnixDomainSocketEndPoint>(endPoint).ToString());
    }

    [Theory]
    [InlineData("127.0.0.1:10809", "127.0.0.1:10809")]
    [InlineData("localhost:10809", "127.0.0.1:10809")]
    [InlineData("[::1]:10809", "[::1]:10809")]
    public void Host_and_port_is_still_tcp(string value, string expected)
    {
        var problems = new List<string>();

        EndPoint? endPoint = NodeSettings.ParseNbdEndPoint(value, problems);

        Assert.Empty(problems);
        Assert.Equal(expected, Assert.IsType<IPEndPoint>(endPoint).ToString());
    }

    [Theory]
    [InlineData("unix:")]
    [InlineData("unix:  ")]
    public void Unix_and_no_path_is_refused(string value)
    {
        var problems = new List<string>();

        Assert.Null(NodeSettings.ParseNbdEndPoint(value, problems));

        Assert.Equal($"--nbd '{value}' names no socket file: unix:PATH, e.g. unix:/run/replicator/disk.sock", Assert.Single(problems));
    }

    [Theory]
    [InlineData("unix/run/disk.sock")]
    [InlineData("/run/disk.sock")]
    [InlineData("UNIX:/run/disk.sock")]
    [InlineData("127.0.0.1")]
    [InlineData("nbd://127.0.0.1:10809")]
    public void A_misspelt_value_is_refused_naming_both_forms(string value)
    {
        var problems = new List<string>();

        Assert.Null(NodeSettings.ParseNbdEndPoint(value, problems));

        Assert.Equal($"--nbd '{value}' is neither HOST:PORT (an IP address and port, e.g. 127.0.0.1:10809) nor unix:PATH (a socket file, e.g. unix:/run/replicator/disk.sock)", Assert.Single(problems));
    }

    [Fact]
    public void A_path_too_long_for_a_socket_is_refused_naming_the_limit()
    {
        var problems = new List<string>();
        string path = "/run/" + new string('d', 110) + ".sock";

        Assert.Null(NodeSettings.ParseNbdEndPoint($"unix:{path}", problems));

        Assert.Equal($"--nbd 'unix:{path}': the Unix socket path {path} is 120 bytes long, past the limit of 107 bytes (sockaddr_un); choose a shorter path", Assert.Single(problems));
    }

    [Fact]
    public void None_given_is_required_in_either_form()
    {
        var problems = new List<string>();

        Assert.Null(NodeSettings.ParseNbdEndPoint(null, problems));

        Assert.Equal("--nbd HOST:PORT or unix:PATH is required", Assert.Single(problems));
    }
}

/// <summary><c>--nbd-max-payload-mb</c>: the export's maximum payload, 32 MiB unless set, 1..1024.</summary>
public class NbdPayloadSettingTests
{
    private static readonly EndPoint Loopback = new IPEndPoint(IPAddress.Loopback, 10809);

    [Fact]
    public void The_default_is_32_MiB()
    {
        var problems = new List<string>();

        NbdServerOptionsOf(new NodeSettings(), problems, out int payload);

        Assert.Empty(problems);
        Assert.Equal(32 << 20, payload);
    }

    [Theory]
    [InlineData(1, 1 << 20)]
    [InlineData(1024, 1 << 30)]
    public void A_value_in_range_is_taken_in_MiB(int megabytes, int expected)
    {
        var problems = new List<string>();

        NbdServerOptionsOf(new NodeSettings { NbdMaxPayloadMb = megabytes }, problems, out int payload);

        Assert.Empty(problems);
        Assert.Equal(expected, payload);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    [InlineData(1025)]
    public void A_value_out_of_range_is_a_problem_naming_the_option(int megabytes)
    {
        var problems = new List<string>();

        NbdServerOptionsOf(new NodeSettings { NbdMaxPayloadMb = megabytes }, problems, out _);

        Assert.Equal($"--nbd-max-payload-mb {megabytes} must be 1..1024", Assert.Single(problems));
    }

    private static void NbdServerOptionsOf(NodeSettings settings, List<string> problems, out int payload) =>
        payload = settings.NbdOptions(Loopback, problems).MaxPayloadBytes;
}
