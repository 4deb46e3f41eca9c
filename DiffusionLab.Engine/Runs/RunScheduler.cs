using DiffusionLab.Engine.Diffusion;
using DiffusionLab.Engine.Priors;
using DiffusionLab.Engine.Solvers;
using static TorchSharp.torch;

namespace DiffusionLab.Engine.Runs;

/// <summary>
/// One prior, many runs: gathers the pending network calls of every active run on the same prior
/// into one batched call (each sample at its own t), formed on a single worker thread and served
/// on as many of the scheduler's own threads as there are cores to spare, then hands each run its slice. On a CPU a
/// 32×32 UNet at batch 1 is bound by per-operation overhead, so a batch of eight costs little
/// more than one; this is how one server serves a class.
/// </summary>
/// <remarks>
/// A run joins through <see cref="Join"/>, which returns the prior it hands its solver: a stand-in
/// whose calls block the run's thread until the worker has served them. Guided calls (DPS) carry
/// their per-sample loss; each part of a batch (see <see cref="Parallelism"/>) sums its losses and
/// runs one backward pass, which gives every run exactly its own gradient because no run's loss
/// depends on another run's samples. Which calls go in a batch, when it goes and how it is split
/// are the <see cref="BatchPolicy"/>'s decisions (oldest first, a per-client share, a gather
/// window); this class only does the waiting, the threads and the arithmetic.
/// </remarks>
public sealed class RunScheduler : IDisposable
{
    readonly object gate = new();
    readonly List<Request> pending = [];
    readonly Dictionary<IDenoiser, int> lanesWaitingOn = new(ReferenceEqualityComparer.Instance);
    readonly Thread? worker;
    // Parts of a split batch beyond the first, served by the scheduler's own threads: the thread pool
    // can be starved by blocked callers (tests, request handlers) and then adds threads slowly.
    readonly System.Collections.Concurrent.BlockingCollection<(List<Request> Part, CountdownEvent Done)> parts = new();
    readonly List<Thread> helpers = [];
    bool disposed;
    long arrivals;

    /// <param name="maxBatch">Most samples in one network call.</param>
    /// <param name="maxPerClient">Most samples of one client in a batch while others wait.</param>
    /// <param name="gatherWindow">How long a batch waits for runs that are between steps (finishing their own
    /// arithmetic, encoding frames) before it goes with the requests it has.</param>
    /// <param name="startWorker">False leaves batching to <see cref="ServeOneBatch"/> (tests drive it step by step).</param>
    /// <param name="parallelism">Most parts a batch is split into, each served on its own thread; null: one per
    /// core that libtorch's intra-op threads leave free (see <see cref="Parallelism"/>).</param>
    public RunScheduler(int maxBatch = 32, int maxPerClient = 8, TimeSpan? gatherWindow = null, bool startWorker = true, int? parallelism = null)
    {
        Policy = new BatchPolicy(Math.Max(1, maxBatch), Math.Max(1, maxPerClient), gatherWindow ?? TimeSpan.FromMilliseconds(15));
        Parallelism = Math.Clamp(parallelism ?? Environment.ProcessorCount / Math.Max(1, TorchRuntime.Threads), 1, 16);
        for (int i = 1; i < Parallelism; i++)
        {
            var helper = new Thread(ServeParts) { IsBackground = true, Name = $"run-scheduler-part-{i}" };
            helper.Start();
            helpers.Add(helper);
        }
        if (startWorker)
        {
            worker = new Thread(Work) { IsBackground = true, Name = "run-scheduler" };
            worker.Start();
        }
    }

    /// <summary>What goes in each batch, when, and in how many parts.</summary>
    public BatchPolicy Policy { get; }
    public int MaxBatch => Policy.MaxBatch;
    public int MaxPerClient => Policy.MaxPerClient;
    public TimeSpan GatherWindow => Policy.GatherWindow;

    /// <summary>
    /// Most threads one batch is served on. Backward passes run with one intra-op thread (a
    /// threaded conv2d kernel races, docs/torchsharp.md §3), so one network call keeps one core
    /// busy; a batch of many runs is split into this many parts, forward and backward on each part
    /// on its own thread. Every sample's ε and gradient depend on that sample alone, so the split
    /// changes nothing but the blocking of the arithmetic.
    /// </summary>
    public int Parallelism { get; }

    /// <summary>Network calls made so far and the samples they carried (their ratio is the mean batch size); each call is counted as it starts, before it unblocks its runs, so a finished run's calls are all in.</summary>
    public (long Calls, long Samples) Served
    {
        get { lock (gate) return (calls, samples); }
    }
    long calls, samples;

    /// <summary>Requests waiting now (tests use it to know when every run has asked).</summary>
    public int PendingCount
    {
        get { lock (gate) return pending.Count; }
    }

    /// <summary>The prior a run's solver should use; dispose it when the run ends.</summary>
    public BatchedPrior Join(IDenoiser prior, string client) => new(this, prior, client);

    /// <summary>Waits for requests, forms one batch and serves it. Returns false when there was nothing to do.</summary>
    public bool ServeOneBatch()
    {
        List<Request> batch;
        lock (gate)
        {
            batch = TakeBatch();
            if (batch.Count == 0) return false;
        }
        Serve(batch);
        return true;
    }

    public void Dispose()
    {
        lock (gate)
        {
            disposed = true;
            foreach (var request in pending) request.Fail(new ObjectDisposedException(nameof(RunScheduler), "The server is shutting down."));
            pending.Clear();
            Monitor.PulseAll(gate);
        }
        worker?.Join();
        parts.CompleteAdding();
        foreach (var helper in helpers) helper.Join();
        parts.Dispose();
    }

    void ServeParts()
    {
        foreach (var (part, done) in parts.GetConsumingEnumerable())
        {
            try { ServePart(part); }
            finally { done.Signal(); }
        }
    }

    void Work()
    {
        while (true)
        {
            List<Request> batch;
            lock (gate)
            {
                while (!disposed && pending.Count == 0) Monitor.Wait(gate);
                if (disposed) return;
                // Give runs that are between steps a moment to join this batch, but only while
                // some run on that prior has yet to ask: a full house goes at once.
                var deadline = DateTime.UtcNow + Policy.GatherTime(lastServe);
                while (!disposed && !Policy.GoesNow(Waiting(), lanesWaitingOn.GetValueOrDefault(pending[0].Lane.Inner)))
                {
                    var left = deadline - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero) break;
                    Monitor.Wait(gate, left);
                }
                if (disposed) return;
                batch = TakeBatch();
            }
            if (batch.Count == 0) continue;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            Serve(batch);
            lastServe = clock.Elapsed;
        }
    }

    TimeSpan lastServe;

    List<WaitingCall> Waiting() => pending.Select(r => new WaitingCall(r.Lane.Inner, r.IsGuided, r.Lane.Client, r.Samples)).ToList();

    /// <summary>Takes the policy's next batch out of the waiting requests (called under the lock).</summary>
    List<Request> TakeBatch()
    {
        var batch = Policy.NextBatch(Waiting()).Select(i => pending[i]).ToList();
        foreach (var request in batch) pending.Remove(request);
        return batch;
    }

    void Serve(List<Request> batch)
    {
        // A GPU serves the whole batch in one call faster than in parts; the split is for CPU cores.
        if (Parallelism == 1 || batch.Count == 1 || batch[0].Lane.Inner.Device.type != TorchSharp.DeviceType.CPU)
        {
            ServePart(batch);
            return;
        }
        var byArrival = batch.OrderBy(r => r.Arrival).ToList();
        var split = BatchPolicy.Split(byArrival.Select(r => r.Samples).ToArray(), Parallelism)
            .Select(part => part.Select(i => byArrival[i]).ToList()).ToList();
        using var done = new CountdownEvent(split.Count - 1);
        for (int i = 1; i < split.Count; i++) parts.Add((split[i], done));
        ServePart(split[0]);
        done.Wait();
    }

    void ServePart(List<Request> batch)
    {
        var prior = batch[0].Lane.Inner;
        try
        {
            using var scope = NewDisposeScope();
            var sizes = batch.Select(r => r.Samples).ToArray();
            // Counted before any request completes: a run unblocked by the last call may read Served at once.
            lock (gate)
            {
                calls++;
                samples += sizes.Sum();
            }
            var xt = cat(batch.Select(r => r.Xt).ToArray(), 0);
            var t = cat(batch.Select(r => r.T).ToArray(), 0);
            if (batch[0].IsGuided) ServeGuided(prior, batch, sizes, xt, t);
            else
            {
                Tensor eps;
                using (no_grad()) eps = prior.PredictNoise(xt, t);
                var slices = eps.split(sizes, 0);
                for (int i = 0; i < batch.Count; i++)
                    batch[i].Complete(slices[i].DetachFromDisposeScope(), null, null);
            }
        }
        catch (Exception e)
        {
            foreach (var request in batch) request.Fail(e);
        }
    }

    static void ServeGuided(IDenoiser prior, List<Request> batch, long[] sizes, Tensor xt, Tensor t)
    {
        using var withGradients = enable_grad();
        var x = xt.detach().requires_grad_(true);
        var eps = prior.PredictNoise(x, t);
        var xs = x.split(sizes, 0);
        var epss = eps.split(sizes, 0);
        var losses = new Tensor?[batch.Count];
        for (int i = 0; i < batch.Count; i++)
        {
            try
            {
                var loss = batch[i].Loss!(xs[i], epss[i]);
                if (loss.shape.Length != 1 || loss.shape[0] != sizes[i])
                    throw new InvalidOperationException($"A per-sample loss must have shape [{sizes[i]}], not [{string.Join(", ", loss.shape)}].");
                losses[i] = loss;
            }
            catch (Exception e)
            {
                batch[i].Fail(e);
            }
        }
        var served = Enumerable.Range(0, batch.Count).Where(i => losses[i] is not null).ToArray();
        if (served.Length == 0) return;
        var total = stack(served.Select(i => losses[i]!.sum()).ToArray()).sum();
        var gradient = TorchSharp.torch.autograd.grad([total], [x])[0];
        var gradients = gradient.split(sizes, 0);
        foreach (var i in served)
            batch[i].Complete(epss[i].detach().DetachFromDisposeScope(), gradients[i].DetachFromDisposeScope(),
                losses[i]!.detach().DetachFromDisposeScope());
    }

    void Submit(Request request)
    {
        lock (gate)
        {
            if (disposed) throw new ObjectDisposedException(nameof(RunScheduler), "The server is shutting down.");
            request.Arrival = arrivals++;
            pending.Add(request);
            Monitor.PulseAll(gate);
        }
    }

    internal void AddLane(IDenoiser prior)
    {
        lock (gate) lanesWaitingOn[prior] = lanesWaitingOn.GetValueOrDefault(prior) + 1;
    }

    internal void RemoveLane(IDenoiser prior)
    {
        lock (gate)
        {
            if (--lanesWaitingOn[prior] == 0) lanesWaitingOn.Remove(prior);
            Monitor.PulseAll(gate); // a batch may have been waiting for this run
        }
    }

    /// <summary>A network call waiting for its batch. Its tensors stay owned by the run, which is blocked until served.</summary>
    sealed class Request(BatchedPrior lane, Tensor xt, Tensor t, Func<Tensor, Tensor, Tensor>? loss)
    {
        readonly ManualResetEventSlim done = new();
        (Tensor Eps, Tensor? Gradient, Tensor? Loss)? result;
        Exception? error;

        public BatchedPrior Lane => lane;
        public Tensor Xt => xt;
        public Tensor T => t;
        public Func<Tensor, Tensor, Tensor>? Loss => loss;
        public bool IsGuided => loss is not null;
        public long Samples => xt.shape[0];
        public long Arrival { get; set; }

        /// <summary>Hands the run its slices: tensors made on the worker thread and in none of its dispose scopes.</summary>
        public void Complete(Tensor eps, Tensor? gradient, Tensor? loss)
        {
            result = (eps, gradient, loss);
            done.Set();
        }

        public void Fail(Exception e)
        {
            error ??= e;
            done.Set();
        }

        /// <summary>Blocks the run's thread until served; the tensors handed back join the caller's dispose scope.</summary>
        public GuidedPrediction Wait()
        {
            done.Wait();
            if (result is not { } served)
                throw error is ObjectDisposedException or Solvers.SolverException
                    ? error
                    : new InvalidOperationException("The batched network call failed: " + error?.Message, error);
            return new GuidedPrediction(Adopt(served.Eps), Adopt(served.Gradient), Adopt(served.Loss));
        }

        /// <summary>A handle in the caller's dispose scope for a tensor the worker made (plain calls get no gradient or loss).</summary>
        static Tensor Adopt(Tensor? fromWorker)
        {
            if (fromWorker is null) return empty(0);
            var mine = fromWorker.detach();
            fromWorker.Dispose();
            return mine;
        }
    }

    /// <summary>
    /// The prior as one run's solver sees it while the scheduler batches its calls with other runs'.
    /// Calls that need gradients through the network other than the guided kind go straight to the
    /// prior on the run's thread, unbatched.
    /// </summary>
    public sealed class BatchedPrior : IGuidedDenoiser, ILearnedVariance, IDisposable
    {
        readonly RunScheduler scheduler;
        bool joined, left;

        internal BatchedPrior(RunScheduler scheduler, IDenoiser inner, string client)
        {
            this.scheduler = scheduler;
            Inner = inner;
            Client = client;
        }

        public IDenoiser Inner { get; }
        public string Client { get; }
        public string Name => Inner.Name;
        public NoiseSchedule Schedule => Inner.Schedule;
        public long[] SampleShape => Inner.SampleShape;
        public Device Device => Inner.Device;

        public Tensor PredictNoise(Tensor xt, Tensor t)
        {
            if (xt.requires_grad && is_grad_enabled()) return Inner.PredictNoise(xt, t);
            return Ask(xt, t, null).Epsilon;
        }

        public GuidedPrediction PredictNoiseWithGradient(Tensor xt, Tensor t, Func<Tensor, Tensor, Tensor> perSampleLoss) =>
            Ask(xt, t, perSampleLoss);

        public bool LearnsVariance => Inner is ILearnedVariance { LearnsVariance: true };

        /// <summary>The learned variance goes straight to the prior, unbatched (only samplers that ask for it call this).</summary>
        public (Tensor Epsilon, Tensor VarianceValue) PredictNoiseAndVariance(Tensor xt, Tensor t) =>
            Inner is ILearnedVariance learned ? learned.PredictNoiseAndVariance(xt, t) : throw new InvalidOperationException($"{Name} does not learn its variance");

        GuidedPrediction Ask(Tensor xt, Tensor t, Func<Tensor, Tensor, Tensor>? loss)
        {
            ObjectDisposedException.ThrowIf(left, this);
            // A lane counts as waiting on the prior from its first call on, so runs that never
            // call the network (classical solvers) never hold a batch back.
            if (!joined)
            {
                joined = true;
                scheduler.AddLane(Inner);
            }
            using var detached = xt.detach();
            var request = new Request(this, detached, t, loss);
            scheduler.Submit(request);
            return request.Wait();
        }

        public void Dispose()
        {
            if (left) return;
            left = true;
            if (joined) scheduler.RemoveLane(Inner);
        }
    }
}
