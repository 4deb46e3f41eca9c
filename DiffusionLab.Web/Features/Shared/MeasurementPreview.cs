using DiffusionLab.Engine.Imaging;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Features.Shared;

namespace DiffusionLab.Web.Features.Shared;

/// <summary>Ground truth and measurement pictures for the controls' current spec, before any run.</summary>
public sealed record PreviewImages(byte[] GroundTruthPng, byte[] MeasurementPng);

/// <summary>
/// Builds the measurement y for a spec (without running a solver) so the page can show it while
/// the corruption's parameters move. Cheap at the priors' sizes; the page debounces the calls.
/// </summary>
public sealed class MeasurementPreview(LabCatalog catalog, Runner runner, ILogger<MeasurementPreview> logger)
{
    public Task<(PreviewImages? Images, string? Error)> RenderAsync(ExperimentSpec spec, CancellationToken cancellation) =>
        Task.Run(() =>
        {
            cancellation.ThrowIfCancellationRequested();
            // x0 and y do not depend on the solver: a solver setting out of range (too many steps, say)
            // must not blank the pictures of the image and its measurement.
            spec = spec with { Solver = ExperimentSpec.Default.Solver, SolverParameters = ExperimentSpec.Default.SolverParameters, Steps = ExperimentSpec.Default.Steps };
            if (spec.Validate(catalog.PriorIds).Count > 0) return ((PreviewImages?)null, (string?)null);
            try
            {
                using var prepared = runner.Prepare(spec);
                return (new PreviewImages(FrameEncoder.Encode(prepared.GroundTruth), FrameEncoder.Encode(prepared.BackProjection)), null);
            }
            catch (SpecException e)
            {
                return (null, e.Message);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogWarning(e, "Preview of {Spec} failed", spec.ToQueryString());
                return (null, e.Message);
            }
        }, cancellation);
}
