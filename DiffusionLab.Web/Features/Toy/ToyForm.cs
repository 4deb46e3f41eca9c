using DiffusionLab.Engine.Methods;
using DiffusionLab.Engine.Runs;
using DiffusionLab.Engine.Solvers;
using DiffusionLab.Engine.Toy;

namespace DiffusionLab.Web.Features.Toy;

/// <summary>
/// The 2-D lab's controls as plain state: the mixture's components, the measurement, the solver
/// with its parameters, particles and seed. It becomes a <see cref="ToySpec"/>, whose validation
/// gives the problems shown beside the fields.
/// </summary>
public sealed class ToyForm
{
    public static IReadOnlyList<(string Id, string Name)> Presets { get; } =
        [("ring", "Ring of 8"), ("grid", "5 × 5 grid"), ("two-clusters", "Two clusters")];

    public ToyForm()
    {
        ApplyPreset("ring");
        SelectSolver("dps");
    }

    public List<ToyComponent> Components { get; private set; } = [];

    /// <summary>The preset last applied, or null once the student has edited the mixture.</summary>
    public string? Preset { get; private set; }
    public int SelectedComponent { get; set; } = -1;

    /// <summary>Spread given to components added by clicking.</summary>
    public double NewComponentSpread { get; set; } = 0.3;

    public string SolverId { get; private set; } = "dps";
    public Dictionary<string, double> Parameters { get; private set; } = new();
    public int Steps { get; set; }
    public int Particles { get; set; } = ToySpec.DefaultParticles;
    public int Seed { get; set; }

    public ToyMeasurementKind MeasurementKind { get; private set; } = ToyMeasurementKind.ObserveX1;
    public double A1 { get; set; } = 1;
    public double A2 { get; set; } = 1;
    public double Y { get; set; } = 1.5;
    public double SigmaY { get; set; } = 0.2;

    public SolverDescriptor Solver => SolverCatalog.Find(SolverId)!;
    public ToyMeasurement Measurement => new(MeasurementKind, A1, A2, Y, SigmaY);

    public void ApplyPreset(string id)
    {
        Components = [.. ToySpec.PresetComponents(id)];
        Preset = id;
        SelectedComponent = -1;
    }

    public void ReplaceComponents(IEnumerable<ToyComponent> components, int selected)
    {
        Components = [.. components];
        Preset = null;
        SelectedComponent = selected < Components.Count ? selected : -1;
    }

    public void RemoveSelected()
    {
        if (SelectedComponent < 0 || SelectedComponent >= Components.Count || Components.Count <= 1) return;
        Components.RemoveAt(SelectedComponent);
        Preset = null;
        SelectedComponent = -1;
    }

    public void SelectSolver(string id)
    {
        var descriptor = SolverCatalog.Find(id) ?? throw new ArgumentException($"unknown solver '{id}'", nameof(id));
        SolverId = id;
        Parameters = new(ToySpec.DefaultParameters(descriptor, Measurement));
        Steps = Math.Min(descriptor.DefaultSteps, ToySpec.MaxSteps);
    }

    public void SelectMeasurement(ToyMeasurementKind kind)
    {
        bool wasNone = MeasurementKind == ToyMeasurementKind.None;
        MeasurementKind = kind;
        // Samplers' defaults depend on whether there is a measurement (DPS clips to [-1, 1] only for images).
        if (wasNone != (kind == ToyMeasurementKind.None)) Parameters = new(ToySpec.DefaultParameters(Solver, Measurement));
    }

    /// <summary>The unconditional samplers when there is no measurement; every solver the plane can run otherwise.</summary>
    public IEnumerable<SolverDescriptor> OfferedSolvers =>
        SolverCatalog.All.Where(s => ToySpec.OffersInThePlane(s) && (MeasurementKind != ToyMeasurementKind.None || s.Family == SolverFamily.Unconditional));

    /// <summary>Takes every control from a spec that passed its checks (a shared 2-D lab address).</summary>
    public void Load(ToySpec spec)
    {
        Components = [.. spec.Components];
        Preset = null;
        SelectedComponent = -1;
        SolverId = spec.SolverId;
        Parameters = new(spec.Parameters);
        Steps = spec.Steps;
        Particles = spec.Particles;
        Seed = (int)Math.Clamp(spec.Seed, int.MinValue, int.MaxValue);
        MeasurementKind = spec.Measurement.Kind;
        (A1, A2, Y, SigmaY) = (spec.Measurement.A1, spec.Measurement.A2, spec.Measurement.Y, spec.Measurement.SigmaY);
    }

    public ToySpec ToSpec() => new(Components.ToArray(), SolverId, new Dictionary<string, double>(Parameters), Steps, Measurement, Particles, Seed);

    public IReadOnlyList<SpecProblem> Problems => ToSpec().Validate();

    /// <summary>The first problem of a field ("steps", "measurement.sigmaY", "solver.zeta" …), or null.</summary>
    public string? ProblemOf(string field) => Problems.FirstOrDefault(p => p.Field == field)?.Message;
}
