// The desk's live path: server-sent events carry server-rendered fragments (already escaped).
(function () {
  "use strict";
  var desk = document.getElementById("desk");
  if (!desk || !window.EventSource) { return; }
  var live = document.getElementById("live");
  var liveText = live.querySelector(".live-text");
  function setLive(state, text) { live.dataset.state = state; liveText.textContent = text; }

  var source = new EventSource("/desk/events?after=" + encodeURIComponent(desk.dataset.after || "0"));
  source.onopen = function () { setLive("on", "live"); };
  source.onerror = function () { setLive("off", "reconnecting…"); };

  function replaceState(html) {
    if (html) { document.getElementById("state").innerHTML = html; }
  }
  source.addEventListener("screen_pop", function (e) {
    var data = JSON.parse(e.data);
    var pops = document.getElementById("pops");
    var holder = document.createElement("div");
    holder.innerHTML = data.html;
    var pop = holder.firstElementChild;
    if (pop && !document.getElementById(pop.id)) {
      pop.classList.add("fresh");
      pops.insertBefore(pop, pops.firstChild);
      document.getElementById("waiting").hidden = true;
      document.title = "📞 Call · collbot desk";
    }
    replaceState(data.state);
  });
  source.addEventListener("state", function (e) { replaceState(JSON.parse(e.data).state); });
  source.addEventListener("notice", function (e) {
    var note = document.createElement("div");
    note.className = "alert info";
    note.textContent = JSON.parse(e.data).text;
    document.querySelector("main").insertBefore(note, document.querySelector("main").firstChild);
  });
})();
