using DiffusionLab.Engine;
using TorchSharp;

namespace DiffusionLab.Tests;

/// <summary>
/// The device setting: every spelling a user may give resolves to a device or is refused in one line that names the
/// setting and its value. This machine's libtorch is CPU-only, so asking for CUDA must be refused, never run on the CPU.
/// </summary>
public sealed class ComputeDeviceTests
{
    [Theory]
    [InlineData("cpu")]
    [InlineData(" CPU ")]
    [InlineData("auto")]
    public void Cpu_resolves_to_the_cpu_and_auto_to_cuda_only_where_libtorch_sees_it(string value)
    {
        var (device, description) = ComputeDevice.Resolve(value, "--device");
        var expected = value == "auto" && torch.cuda.is_available() ? DeviceType.CUDA : DeviceType.CPU;
        Assert.Equal(expected, device.type);
        Assert.StartsWith(expected == DeviceType.CPU ? "cpu" : "cuda:0", description);
    }

    [Theory]
    [InlineData("cuda")]
    [InlineData("cuda:0")]
    [InlineData("cuda:3")]
    public void Asking_for_cuda_where_there_is_none_is_refused_naming_the_setting(string value)
    {
        if (torch.cuda.is_available() && (value != "cuda:3" || torch.cuda.device_count() > 3))
        {
            Assert.Equal(DeviceType.CUDA, ComputeDevice.Resolve(value, "Engine:Device").Device.type); // the CUDA build on a GPU machine
            return;
        }
        var refused = Assert.Throws<DeviceUnavailableException>(() => ComputeDevice.Resolve(value, "Engine:Device"));
        Assert.StartsWith($"Engine:Device is \"{value}\", but libtorch sees ", refused.Message);
        Assert.DoesNotContain('\n', refused.Message);
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:x")]
    public void A_value_that_is_no_device_is_refused_with_the_spellings_there_are(string value)
    {
        var refused = Assert.Throws<DeviceUnavailableException>(() => ComputeDevice.Resolve(value, "--device"));
        Assert.Equal($"--device is \"{value}\": a device is auto, cpu, cuda or cuda:N (N = 0, 1, …).", refused.Message);
    }
}
