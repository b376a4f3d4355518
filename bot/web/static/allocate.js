// "Choose all shown": one click picks the whole filtered set.
(function () {
  "use strict";
  var all = document.getElementById("all-cases");
  if (!all) { return; }
  all.addEventListener("change", function () {
    document.querySelectorAll('input[name="case"]').forEach(function (box) { box.checked = all.checked; });
  });
})();
