// A date input shows its day/month order in the BROWSER's language (an English Chromium
// shows 12/01/2026 on a Spanish page): beside each one, the chosen day in words in the
// PAGE's language (<html lang>, the console's chosen one), as the agent reads it aloud:
// "martes, 1 de diciembre de 2026" / "Tuesday, December 1, 2026". Never ambiguous.
(function () {
  "use strict";
  const lang = document.documentElement.lang || "es";
  const dayOnly = new Intl.DateTimeFormat(lang, { dateStyle: "full", timeZone: "UTC" });
  // The 24-hour clock, as every other time on the console ("hora local del deudor").
  const dayAndTime = new Intl.DateTimeFormat(lang, { dateStyle: "full", timeStyle: "short", hourCycle: "h23", timeZone: "UTC" });

  // The input's value is a wall-clock day (and time): read it as UTC and show it as UTC,
  // so no zone of the browser moves it to another day.
  function words(input) {
    const m = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2}))?/.exec(input.value || "");
    if (!m) return "";
    const at = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +(m[4] || 0), +(m[5] || 0)));
    if (Number.isNaN(at.getTime())) return "";
    return (m[4] === undefined ? dayOnly : dayAndTime).format(at);
  }

  function attach(input) {
    const out = document.createElement("span");
    out.className = "date-words";
    out.setAttribute("aria-live", "polite");
    if (input.id) out.id = input.id + "-words";
    input.after(out);
    const show = () => { out.textContent = words(input); };
    for (const ev of ["input", "change", "blur"]) input.addEventListener(ev, show);
    if (input.form) input.form.addEventListener("reset", () => setTimeout(show, 0));
    show();
  }

  for (const input of document.querySelectorAll('input[type="date"], input[type="datetime-local"]')) attach(input);
})();
