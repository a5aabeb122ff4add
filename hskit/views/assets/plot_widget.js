// hskit's plot widget: draws a plotly figure (JSON from the kernel) with plotly.js.
//
// plotly.js (the basic bundle: scatter, bar, pie) comes from the kernel once per page,
// gzipped (about 400 kB), and is shared by every plot widget of the page; clicks go back
// to the kernel as {type: "click", trace, point}.

const LOADING = "__hskitPlotlyLoading";
const WAIT_MS = 30000;

function loadPlotly(model) {
  if (globalThis[LOADING]) return globalThis[LOADING];
  const loading = new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error("plotly.js did not arrive from the kernel")), WAIT_MS);
    function fail(error) {
      clearTimeout(timer);
      model.off("msg:custom", onMessage);
      if (globalThis[LOADING] === loading) delete globalThis[LOADING];
      reject(error);
    }
    async function onMessage(message, buffers) {
      if (!message || message.type !== "plotly.js") return;
      clearTimeout(timer);
      model.off("msg:custom", onMessage);
      try {
        const gzipped = new Blob([buffers[0]]).stream().pipeThrough(new DecompressionStream("gzip"));
        const source = await new Response(gzipped).text();
        const url = URL.createObjectURL(new Blob([source], { type: "text/javascript" }));
        const script = document.createElement("script");
        script.onload = () => { URL.revokeObjectURL(url); resolve(globalThis.Plotly); };
        script.onerror = () => fail(new Error("plotly.js failed to load"));
        script.src = url;
        document.head.appendChild(script);
      } catch (error) {
        fail(error);
      }
    }
    model.on("msg:custom", onMessage);
    model.send({ type: "need plotly.js" });
  });
  globalThis[LOADING] = loading;
  return loading;
}

async function render({ model, el }) {
  const plot = document.createElement("div");
  plot.className = "hskit-plot";
  plot.style.width = "100%";
  el.appendChild(plot);
  let Plotly;
  try {
    Plotly = await loadPlotly(model);
  } catch (error) {
    plot.textContent = "hskit: " + error.message;
    return;
  }
  const draw = () => {
    const figure = JSON.parse(model.get("_figure_json") || "{}");
    const config = Object.assign({ displaylogo: false, responsive: true }, model.get("config"));
    return Plotly.react(plot, figure.data || [], figure.layout || {}, config);
  };
  await draw();
  plot.on("plotly_click", (event) => {
    const point = event.points && event.points[0];
    if (!point) return;
    model.send({ type: "click", trace: point.curveNumber, point: point.pointNumber });
  });
  model.on("change:_figure_json", draw);
  const resize = new ResizeObserver(() => { if (plot.offsetWidth) Plotly.Plots.resize(plot); });
  resize.observe(el);
  return () => {
    model.off("change:_figure_json", draw);
    resize.disconnect();
    Plotly.purge(plot);
  };
}

export default { render };
