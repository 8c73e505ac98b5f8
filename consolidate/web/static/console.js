// consolidate web console: upload progress and stale-page notice.  Everything works without it.
(function () {
  "use strict";
  var form = document.getElementById("upload");
  if (form && window.XMLHttpRequest && window.FormData) {
    var input = document.getElementById("files");
    var bar = document.getElementById("progress");
    var text = document.getElementById("progress-text");
    var cap = parseInt(form.getAttribute("data-cap"), 10);
    ["dragenter", "dragover"].forEach(function (ev) {
      form.addEventListener(ev, function (e) { e.preventDefault(); form.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (ev) {
      form.addEventListener(ev, function () { form.classList.remove("over"); });
    });
    form.addEventListener("drop", function (e) {
      e.preventDefault();
      if (e.dataTransfer && e.dataTransfer.files.length) { input.files = e.dataTransfer.files; }
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!input.files.length) { text.textContent = "Виберіть файли."; return; }
      var total = 0;
      for (var i = 0; i < input.files.length; i++) { total += input.files[i].size; }
      if (total > cap) {
        text.textContent = "Файли більші за дозволені " + form.getAttribute("data-cap-mb") +
          " МБ за один раз: нічого не надіслано.";
        text.className = "error";
        return;
      }
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      bar.hidden = false;
      xhr.upload.onprogress = function (ev) {
        if (ev.lengthComputable) {
          bar.value = Math.round(100 * ev.loaded / ev.total);
          text.textContent = ev.loaded < ev.total ? "Надсилання… " + bar.value + "%" : "Перевірка файлів…";
        }
      };
      xhr.onload = function () {
        if (xhr.status === 200 && xhr.responseURL) { window.location.assign(xhr.responseURL); return; }
        document.open(); document.write(xhr.responseText); document.close();
      };
      xhr.onerror = function () { text.textContent = "З’єднання перервано: файли не надіслано."; text.className = "error"; };
      xhr.send(new FormData(form));
    });
  }
  // A page left open goes stale when another clerk acts: poll the ledger's stamp.
  var stamp = document.body.getAttribute("data-stamp") || null;
  function check() {
    var xhr = new XMLHttpRequest();
    xhr.open("GET", "/api/stamp");
    xhr.onload = function () {
      if (xhr.status !== 200) { return; }
      var now = JSON.parse(xhr.responseText).stamp;
      if (stamp === null) { stamp = now; return; }
      if (now !== stamp) {
        if (document.body.getAttribute("data-live") === "1" && !document.querySelector("input:focus")) {
          window.location.reload();
        } else {
          document.getElementById("stale").hidden = false;
        }
      }
    };
    xhr.send();
  }
  if (document.querySelector("header nav")) { check(); window.setInterval(check, 5000); }
}());
