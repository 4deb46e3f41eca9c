// The watch page: joins a run's group on /hubs/watch, draws the frames so far, then the live ones.
// It can only listen: the hub has no method that starts, stops or changes a run.
window.diffusionLabWatch = (() => {
    let connection = null;
    let lastStep = -1;
    const urls = {};

    function show(panel, bytes, mime) {
        if (!bytes || bytes.length === 0) return;
        const img = document.querySelector(`#watch img[data-panel="${panel}"]`);
        if (!img) return;
        if (urls[panel]) URL.revokeObjectURL(urls[panel]);
        urls[panel] = URL.createObjectURL(new Blob([bytes], { type: mime || "image/png" }));
        img.src = urls[panel];
    }

    function status(text, step) {
        const el = document.querySelector('#watch [data-testid="watch-status"]');
        if (!el) return;
        el.textContent = text;
        if (step !== undefined) el.dataset.step = String(step);
    }

    function frame(f) {
        if (f.Step <= lastStep) return; // already drawn from the snapshot
        lastStep = f.Step;
        show("xt", f.Xt, f.Mime);
        show("x0hat", f.X0Hat, f.Mime);
        status(`step ${f.Step + 1} of ${f.Total}${f.IsFinal ? " · finished" : ""}`, f.Step);
        const metrics = document.querySelector('#watch [data-testid="watch-metrics"]');
        if (metrics) metrics.textContent = `PSNR ${f.Psnr.toFixed(2)} dB · SSIM ${Number.isFinite(f.Ssim) ? f.Ssim.toFixed(3) : "–"} · ‖y − A x̂0‖ ${f.Residual.toFixed(3)}`;
    }

    async function start(runId) {
        if (connection) await connection.stop();
        lastStep = -1;
        connection = new signalR.HubConnectionBuilder()
            .withUrl("/hubs/watch")
            .withHubProtocol(new signalR.protocols.msgpack.MessagePackHubProtocol())
            .withAutomaticReconnect()
            .build();
        connection.on("Frame", frame);
        connection.on("Ended", (s, error) => status(error ? `${s.toLowerCase()}: ${error}` : `${s.toLowerCase()} at step ${lastStep + 1}`, lastStep));
        await connection.start();
        try {
            const snapshot = await connection.invoke("Watch", runId);
            const title = document.querySelector('#watch [data-testid="watch-title"]');
            if (title) title.textContent = `Watching ${snapshot.Title} · ${snapshot.Status.toLowerCase()}`;
            show("measurement", snapshot.Measurement);
            show("truth", snapshot.GroundTruth);
            for (const f of snapshot.Frames) frame(f);
        } catch (e) {
            status(e.message.replace(/^.*HubException: /, ""));
            // No live run: no empty panels, and a way to the run's replay if it finished and was kept.
            const panels = document.querySelector('#watch .watch-panels');
            if (panels) panels.style.display = "none";
            const replay = document.querySelector('#watch [data-testid="watch-replay"]');
            if (replay) replay.hidden = false;
        }
    }

    return { start };
})();
