using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Training;
using DiffusionLab.Tests.Priors;
using static TorchSharp.torch;

namespace DiffusionLab.Tests.Training;

public class NetworkGrowthTests
{
    public static TheoryData<int, int, int[]> Growths => new()
    {
        { 1, 2, [4] },     // attention at 4×4 only
        { 1, 3, [8, 2] },  // attention at full resolution too, two new blocks per level
        { 2, 3, [4] },     // a network that already has two blocks per level
    };

    [Theory]
    [MemberData(nameof(Growths))]
    public void A_deepened_network_computes_the_same_noise_prediction(int from, int to, int[] attention)
    {
        using var scope = NewDisposeScope();
        var config = new UNetConfig(8, 3, 8, [1, 2, 2], from, attention, NormGroups: 4);
        using var source = UNetTests.Randomised(config, seed: from * 10 + to);
        using var deeper = NetworkGrowth.Deepen(source, to);

        Assert.Equal(to, deeper.Config.ResBlocksPerLevel);
        Assert.True(deeper.ParameterCount > source.ParameterCount);
        var x = randn([6, 3, 8, 8], generator: new Generator(7));
        var t = tensor(new long[] { 0, 1, 120, 500, 871, 999 });
        using (no_grad())
        {
            var expected = source.PredictNoise(x, t);
            var actual = deeper.PredictNoise(x, t);
            Assert.True(expected.abs().max().item<float>() > 0.1, "the source network should predict something");
            double difference = (actual - expected).abs().max().item<float>();
            Assert.True(difference < 1e-5, $"the deeper network differs from the source by {difference}");
        }
    }

    [Fact]
    public void The_new_blocks_start_as_identities_but_learn_from_the_first_step()
    {
        using var scope = NewDisposeScope();
        using var source = UNetTests.Randomised(UNetConfig.Tiny(), seed: 3);
        using var deeper = NetworkGrowth.Deepen(source, 2);
        var names = source.state_dict().Keys.ToHashSet();
        var x0 = randn([4, 3, 8, 8], generator: new Generator(1));
        var noise = randn([4, 3, 8, 8], generator: new Generator(2));
        DdpmTrainer.Loss(deeper, x0, tensor(new long[] { 10, 200, 600, 900 }), noise).backward();

        // The last convolution of each new block is zero, and is exactly what its gradient moves.
        var newConvs = deeper.named_parameters().Where(p => p.name.EndsWith("res.conv2.weight") && p.parameter.abs().max().item<float>() == 0).ToList();
        Assert.Equal(2 + 2, newConvs.Count); // one new block per level (Tiny has two) on the way down and one on the way up
        foreach (var (name, parameter) in newConvs)
            Assert.True(parameter.grad is not null && parameter.grad.abs().max().item<float>() > 0, $"{name} gets no gradient");
        Assert.Contains(deeper.state_dict().Keys, name => !names.Contains(name));
    }

    [Fact]
    public void Making_a_network_shallower_is_refused()
    {
        using var source = UNetTests.Randomised(UNetConfig.Tiny() with { ResBlocksPerLevel = 2 }, seed: 4);
        var error = Assert.Throws<ArgumentException>(() => NetworkGrowth.Deepen(source, 1));
        Assert.Contains("only be made deeper", error.Message);
    }

    [Fact]
    public void Adding_classes_keeps_the_prediction_for_every_class_and_the_classes_then_learn()
    {
        using var scope = NewDisposeScope();
        using var source = UNetTests.Randomised(UNetConfig.Tiny(), seed: 5);
        string[] names = ["a", "b", "c"];
        using var conditional = NetworkGrowth.WithClasses(source, names);
        Assert.Equal(names, conditional.Config.ClassNames);
        var x = randn([4, 3, 8, 8], generator: new Generator(3));
        var t = tensor(new long[] { 3, 250, 640, 990 });
        using (no_grad())
        {
            var expected = source.PredictNoise(x, t);
            Assert.True(expected.abs().max().item<float>() > 0.1, "the source network should predict something");
            Assert.True(conditional.PredictNoise(x, t).eq(expected).all().item<bool>(), "without a class");
            for (long c = 0; c < 3; c++)
                Assert.True(conditional.PredictNoise(x, t, full(4, c, dtype: int64)).eq(expected).all().item<bool>(), $"class {c}");
        }
        DdpmTrainer.Loss(conditional, x, t, randn([4, 3, 8, 8], generator: new Generator(4)), classes: tensor(new long[] { 0, 1, 2, 0 })).backward();
        var grad = conditional.named_parameters().Single(p => p.name == "class_embedding.weight").parameter.grad!;
        Assert.True(grad[0].abs().max().item<float>() > 0, "a class seen in the batch gets gradient");
        Assert.Equal(0f, grad[3].abs().max().item<float>()); // "no class" was not in this batch

        Assert.Contains("already learns classes", Assert.Throws<ArgumentException>(() => NetworkGrowth.WithClasses(conditional, names)).Message);
    }
}
