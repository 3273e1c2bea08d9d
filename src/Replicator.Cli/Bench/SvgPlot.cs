using System.Globalization;
using System.Security;
using System.Text;

namespace Replicator.Cli.Bench;

/// <summary>
/// A small line chart written as SVG by hand, with both axes logarithmic: enough for latency
/// against size, with no native plotting library to install.
/// </summary>
internal sealed class SvgPlot(string title, string xLabel, string yLabel)
{
    private const int Width = 760, Height = 480, Left = 80, Right = 210, Top = 50, Bottom = 60;
    private readonly List<Series> _series = new();

    public void Add(string name, string color, bool dashed, IEnumerable<(double X, double Y)> points, bool markers = true) =>
        _series.Add(new Series(name, color, dashed, markers, points.Where(p => p.X > 0 && p.Y > 0 && double.IsFinite(p.X) && double.IsFinite(p.Y)).OrderBy(p => p.X).ToList()));

    public string Render()
    {
        List<(double X, double Y)> all = _series.SelectMany(s => s.Points).ToList();
        var svg = new StringBuilder();
        Append(svg, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">");
        Append(svg, $"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>");
        Append(svg, $"<text x=\"{Width / 2}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\">{Escape(title)}</text>");
        if (all.Count == 0)
        {
            Append(svg, "</svg>");
            return svg.ToString();
        }

        // Sizes: ticks at every fourth power of two (64 KiB, 256 KiB, 1 MiB, ...), one step of margin each side.
        double xMin = Math.Pow(2, Math.Floor(Math.Log2(all.Min(p => p.X))) - 2);
        double xMax = Math.Pow(2, Math.Ceiling(Math.Log2(all.Max(p => p.X))) + 2);
        (double yMin, double yMax) = Decades(all.Min(p => p.Y), all.Max(p => p.Y));
        double PlotX(double x) => Left + ((Math.Log10(x) - Math.Log10(xMin)) / (Math.Log10(xMax) - Math.Log10(xMin)) * (Width - Left - Right));
        double PlotY(double y) => Height - Bottom - ((Math.Log10(y) - Math.Log10(yMin)) / (Math.Log10(yMax) - Math.Log10(yMin)) * (Height - Top - Bottom));

        // Grid and tick labels at each power of ten (and 2, 5 between them on the y axis).
        for (double x = xMin; x <= xMax * 1.0001; x *= 4)
        {
            Append(svg, $"<line x1=\"{PlotX(x):F1}\" y1=\"{Top}\" x2=\"{PlotX(x):F1}\" y2=\"{Height - Bottom}\" stroke=\"#ddd\"/>");
            Append(svg, $"<text x=\"{PlotX(x):F1}\" y=\"{Height - Bottom + 18}\" text-anchor=\"middle\">{Escape(BytesLabel(x))}</text>");
        }

        for (double decade = yMin; decade <= yMax * 1.0001; decade *= 10)
        {
            foreach (double y in new[] { decade, decade * 2, decade * 5 }.Where(v => v <= yMax * 1.0001))
            {
                Append(svg, $"<line x1=\"{Left}\" y1=\"{PlotY(y):F1}\" x2=\"{Width - Right}\" y2=\"{PlotY(y):F1}\" stroke=\"{(y == decade ? "#ccc" : "#eee")}\"/>");
                Append(svg, $"<text x=\"{Left - 6}\" y=\"{PlotY(y) + 4:F1}\" text-anchor=\"end\">{y.ToString("0.###", CultureInfo.InvariantCulture)}</text>");
            }
        }

        Append(svg, $"<rect x=\"{Left}\" y=\"{Top}\" width=\"{Width - Left - Right}\" height=\"{Height - Top - Bottom}\" fill=\"none\" stroke=\"#333\"/>");
        Append(svg, $"<text x=\"{(Left + Width - Right) / 2}\" y=\"{Height - 16}\" text-anchor=\"middle\">{Escape(xLabel)}</text>");
        Append(svg, $"<text transform=\"translate(20 {(Top + Height - Bottom) / 2}) rotate(-90)\" text-anchor=\"middle\">{Escape(yLabel)}</text>");

        int legendY = Top + 10;
        foreach (Series series in _series)
        {
            string dash = series.Dashed ? " stroke-dasharray=\"6 4\"" : "";
            if (series.Points.Count > 1)
            {
                string path = string.Join(' ', series.Points.Select(p => string.Create(CultureInfo.InvariantCulture, $"{PlotX(p.X):F1},{PlotY(p.Y):F1}")));
                Append(svg, $"<polyline points=\"{path}\" fill=\"none\" stroke=\"{series.Color}\" stroke-width=\"2\"{dash}/>");
            }

            if (series.Markers)
            {
                foreach ((double x, double y) in series.Points)
                {
                    Append(svg, $"<circle cx=\"{PlotX(x):F1}\" cy=\"{PlotY(y):F1}\" r=\"3.5\" fill=\"{series.Color}\"/>");
                }
            }

            Append(svg, $"<line x1=\"{Width - Right + 12}\" y1=\"{legendY}\" x2=\"{Width - Right + 40}\" y2=\"{legendY}\" stroke=\"{series.Color}\" stroke-width=\"2\"{dash}/>");
            Append(svg, $"<text x=\"{Width - Right + 46}\" y=\"{legendY + 4}\">{Escape(series.Name)}</text>");
            legendY += 20;
        }

        Append(svg, "</svg>");
        return svg.ToString();
    }

    private static (double Min, double Max) Decades(double min, double max)
    {
        double low = Math.Pow(10, Math.Floor(Math.Log10(min)));
        double high = Math.Pow(10, Math.Ceiling(Math.Log10(max)));
        return (low, high > low ? high : low * 10);
    }

    private static string BytesLabel(double bytes) => bytes switch
    {
        >= 1 << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1 << 20):0.##} MiB"),
        >= 1 << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1 << 10):0.##} KiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes:0} B"),
    };

    private static string Escape(string text) => SecurityElement.Escape(text) ?? "";

    private static void Append(StringBuilder svg, FormattableString line) => svg.AppendLine(line.ToString(CultureInfo.InvariantCulture));

    private static void Append(StringBuilder svg, string line) => svg.AppendLine(line);

    private sealed record Series(string Name, string Color, bool Dashed, bool Markers, List<(double X, double Y)> Points);
}
