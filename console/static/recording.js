/* Attempt page: one audited play token per play, then the <audio> element seeks freely. */
"use strict";
(() => {
  const section = document.getElementById("recording");
  const button = document.getElementById("recording-play");
  const audio = document.getElementById("recording-audio");
  const error = document.getElementById("recording-play-error");
  if (!section || !button || !audio) return;
  const id = section.dataset.recordingId;
  // A play token expires (30 min) or the link drops: say so; the next click is a new play.
  audio.addEventListener("error", () => {
    if (!audio.getAttribute("src")) return;
    error.textContent = audio.dataset.error;
    error.hidden = false;
    button.disabled = false;
  });
  button.addEventListener("click", async () => {
    button.disabled = true;
    error.hidden = true;
    const res = await Cobrador.api("POST", `/api/recordings/${id}/play`);
    if (!res.ok) {
      error.textContent = res.data.reason || String(res.status);
      error.hidden = false;
      button.disabled = false;
      return;
    }
    audio.src = res.data.url;
    audio.hidden = false;
    audio.load();
    audio.play().catch(() => { /* autoplay refused: the controls are there */ });
    // A token lasts a while; after that, a new play is a new audited play.
    button.disabled = false;
  });
})();
