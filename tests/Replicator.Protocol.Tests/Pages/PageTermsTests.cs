using Replicator.Protocol.Pages;

namespace Replicator.Protocol.Tests.Pages;

public class PageTermsTests
{
    [Fact]
    public void The_link_takes_the_primary_s_encoding_and_the_smaller_cache()
    {
        PageTerms agreed = PageTerms.Agree(new PageTerms(PageEncoding.Lz4, 8 << 20), new PageTerms(PageEncoding.ZeroRuns, 2 << 20));

        Assert.Equal(new PageTerms(PageEncoding.Lz4, 2 << 20), agreed);
        Assert.Null(agreed.ProblemAsAnswerTo(new PageTerms(PageEncoding.Lz4, 8 << 20)));
    }

    [Theory]
    [InlineData(PageEncoding.None, PageEncoding.ZeroRuns)] // the primary sends whole pages
    [InlineData(PageEncoding.ZeroRuns, PageEncoding.None)] // the secondary takes whole pages only
    [InlineData((PageEncoding)9, PageEncoding.ZeroRuns)] // an encoding this build does not know
    public void Pages_go_whole_unless_both_ends_encode_with_one_this_build_knows(PageEncoding offered, PageEncoding local) =>
        Assert.Equal(PageTerms.Whole, PageTerms.Agree(new PageTerms(offered, 1 << 20), new PageTerms(local, 1 << 20)));

    [Theory]
    [InlineData(PageEncoding.Lz4, 1024, "pages encoded as Lz4, which the hello did not offer")]
    [InlineData(PageEncoding.ZeroRuns, 2 << 20, "a page cache of 2097152 bytes, where the hello offered 1048576 at most")]
    [InlineData(PageEncoding.ZeroRuns, -1, "a page cache of -1 bytes")]
    [InlineData(PageEncoding.None, 1024, "a page cache of 1024 bytes, where the hello offered 0 at most")]
    public void A_welcome_answering_terms_the_hello_did_not_offer_is_refused(PageEncoding encoding, long cacheBytes, string problem) =>
        Assert.Contains(problem, new PageTerms(encoding, cacheBytes).ProblemAsAnswerTo(new PageTerms(PageEncoding.ZeroRuns, 1 << 20)));
}
