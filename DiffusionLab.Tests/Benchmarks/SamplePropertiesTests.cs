using DiffusionLab.Engine;
using DiffusionLab.Engine.Benchmarks;
using TorchSharp;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Benchmarks;

public sealed class SamplePropertiesTests
{
    /// <summary>Random blocky 16 × 16 images in [-1, 1]: 4 × 4 cells of random colours, so there are edges to blur.</summary>
    static Tensor Blocky(int count, ulong seed)
    {
        using var scope = NewDisposeScope();
        var cells = rand([count, 3, 4, 4], generator: new Generator(seed)).Times(2).Minus(1);
        return nn.functional.interpolate(cells, size: [16, 16], mode: InterpolationMode.Nearest).MoveToOuterDisposeScope();
    }

    [Fact]
    public void A_set_against_itself_has_precision_and_recall_one_and_against_a_far_set_zero()
    {
        using var scope = NewDisposeScope();
        var data = Blocky(40, 1);
        Assert.Equal((1.0, 1.0), SampleProperties.PrecisionRecall(data, data));
        var far = Blocky(40, 2).Plus(100);
        Assert.Equal((0.0, 0.0), SampleProperties.PrecisionRecall(data, far));
    }

    [Fact]
    public void A_collapsed_generator_is_precise_but_recalls_little()
    {
        using var scope = NewDisposeScope();
        var data = Blocky(60, 3);
        // Five real images, each repeated: every sample is realistic, but they cover a twelfth of the data.
        var collapsed = data.narrow(0, 0, 5).repeat_interleave(12, dim: 0);
        var (precision, recall) = SampleProperties.PrecisionRecall(data, collapsed);
        Assert.Equal(1.0, precision);
        Assert.InRange(recall, 5 / 60.0, 0.3);
    }

    [Fact]
    public void A_blurred_copy_is_less_sharp_and_the_data_is_as_sharp_as_itself()
    {
        using var scope = NewDisposeScope();
        var data = Blocky(20, 4);
        var blurred = nn.functional.avg_pool2d(functional_pad(data), 3, 1);
        Assert.Equal(data.shape, blurred.shape);
        var properties = SampleProperties.Measure(blurred, data, Blocky(30, 5));
        Assert.True(properties.Sharpness < 0.6, $"a 3 × 3 box blur kept sharpness {properties.Sharpness:F3}");
        Assert.Equal(1.0, SampleProperties.Measure(data, data, Blocky(30, 5)).Sharpness, 6);
        // A flat image has no Laplacian energy at all.
        Assert.Equal(0.0, SampleProperties.LaplacianEnergy(ScalarArithmetic.Full([2, 3, 8, 8], 0.3, ScalarType.Float32)), 9);
    }

    static Tensor functional_pad(Tensor x) => nn.functional.pad(x, [1, 1, 1, 1], PaddingModes.Replicate);

    [Fact]
    public void One_image_repeated_has_no_diversity_and_the_data_has_diversity_one()
    {
        using var scope = NewDisposeScope();
        var data = Blocky(20, 6);
        var training = Blocky(30, 7);
        var repeated = data.narrow(0, 0, 1).expand(20, 3, 16, 16);
        Assert.Equal(0.0, SampleProperties.Measure(repeated, data, training).Diversity, 6);
        Assert.Equal(1.0, SampleProperties.Measure(data, data, training).Diversity, 6);
        // By hand on three points of a line at 0, 3 and 4: pairs 3, 4 and 1.
        var line = tensor(new float[] { 0, 3, 4 }).reshape(3, 1, 1, 1);
        Assert.Equal(8 / 3.0, SampleProperties.MeanPairwiseDistance(line), 6);
    }

    [Fact]
    public void Copies_of_training_images_are_found_as_memorised()
    {
        using var scope = NewDisposeScope();
        var training = Blocky(50, 8);
        var heldout = Blocky(20, 9);
        var copies = training.narrow(0, 10, 20);
        var copied = SampleProperties.Measure(copies, heldout, training);
        Assert.Equal(0.0, copied.NearestTrainingDistance, 6);
        Assert.Equal(1.0, copied.CopiedShare);
        var fresh = SampleProperties.Measure(Blocky(20, 10), heldout, training);
        Assert.InRange(fresh.NearestTrainingDistance, 0.8, 1.25);
        Assert.True(fresh.CopiedShare < 0.2, $"{fresh.CopiedShare} of fresh images counted as copies");
        // The nearest distances themselves, by hand.
        var nearest = SampleProperties.NearestDistances(tensor(new float[] { 0, 10 }).reshape(2, 1, 1, 1), tensor(new float[] { 1, 7, 12 }).reshape(3, 1, 1, 1));
        Assert.Equal(new[] { 1.0, 2.0 }, nearest.data<double>().ToArray());
    }

    [Fact]
    public void Sets_that_are_not_images_are_refused()
    {
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentException>(() => { SampleProperties.LaplacianEnergy(zeros(3, 8)); });
        Assert.Throws<ArgumentException>(() => { SampleProperties.MeanPairwiseDistance(zeros(1, 3, 8, 8)); });
        Assert.Throws<ArgumentOutOfRangeException>(() => { SampleProperties.PrecisionRecall(zeros(3, 3, 8, 8), zeros(3, 3, 8, 8), neighbours: 3); });
    }
}
