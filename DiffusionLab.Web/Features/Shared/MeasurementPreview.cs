using DiffusionLab.Engine.Runs;
using DiffusionLab.Web.Runs;

namespace DiffusionLab.Web.Features.Shared;

/// <summary>
/// Builds the measurement y for a spec (without running a solver) so the page can show it while
/// the corruption's parameters move. Cheap at the priors' sizes; the page debounces the calls.
/// </summary>
public sealed class MeasurementPreview(LabCatalog catalog, Runner runner, ILogger<MeasurementPreview> logger)
{
    public Task<(ProblemPictures? Images, string? Error)> RenderAsync(ExperimentSpec spec, CancellationToken cancellation) =>
        Task.Run(() =>
        {
            cancellation.ThrowIfCancellationRequested();
            // x0 and y do not depend on the solver: a solver setting out of range (too many steps, say)
            // must not blank the pictures of the image and its measurement.
            spec = spec with { Solver = ExperimentSpec.Default.Solver, SolverParameters = ExperimentSpec.Default.SolverParameters, Steps = ExperimentSpec.Default.Steps };
            if (spec.Validate(catalog.PriorIds).Count > 0) return ((ProblemPictures?)null, (string?)null);
            try
            {
                using var prepared = runner.Prepare(spec);
                return (ProblemPictures.From(prepared), null);
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
