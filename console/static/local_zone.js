// A server-rendered page that shows times: asked again with the browser's IANA zone
// (?tz=), as the wallboard sends it for its figures, so the times are the reader's.
(function () {
  "use strict";
  const url = new URL(window.location.href);
  if (url.searchParams.get("tz")) return;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone) return;
  url.searchParams.set("tz", zone);
  window.location.replace(url.toString());
})();
