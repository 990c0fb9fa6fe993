// The Live page: on each server-sent event, ask htmx for the panel again (hx-trigger
// "deskmail:refresh"). Without EventSource, or once the stream is refused for good,
// htmx polls the panel every few seconds instead. A static file: the CSP allows only 'self'.
"use strict";

function deskmailLive() {
  const panel = document.getElementById("live-panel");
  if (!panel || panel.dataset.listening || !window.htmx) {
    return;
  }
  panel.dataset.listening = "yes";
  const refresh = () => window.htmx.trigger(panel, "deskmail:refresh");

  function poll() {
    panel.setAttribute("hx-trigger", `deskmail:refresh, every ${panel.dataset.poll}s`);
    window.htmx.process(panel);
  }

  if (!window.EventSource) {
    poll();
    return;
  }
  const source = new EventSource(panel.dataset.stream);
  panel.dataset.live = "connecting";
  source.addEventListener("open", () => {
    if (panel.dataset.live === "reconnecting") {
      refresh(); // what happened while the stream was down was not told: look again
    }
    panel.dataset.live = "open";
  });
  for (const name of ["ticket.created", "run", "quarantine"]) {
    source.addEventListener(name, () => {
      if (!document.body.contains(panel)) {
        source.close(); // the user went to another page (hx-boost keeps this document)
        return;
      }
      refresh();
    });
  }
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CONNECTING) {
      panel.dataset.live = "reconnecting"; // the stream ended (it does every few minutes)
    } else if (source.readyState === EventSource.CLOSED) {
      panel.dataset.live = "polling";
      poll();
    }
  });
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.target === document.body) {
      source.close();
    }
  });
}

// On a full load this runs before the deferred htmx; after a boosted navigation, htmx is there.
if (window.htmx) {
  deskmailLive();
} else {
  document.addEventListener("DOMContentLoaded", deskmailLive);
}
