// latchkey's one script: the Copy button next to a key or password shown
// once. It copies the text of the element its data-copy attribute names and
// says "Copied" in the page's aria-live region. Without JavaScript the
// button stays hidden, and the text can be selected and copied by hand.
(function () {
  "use strict";

  function announce(text) {
    var live = document.getElementById("announce");
    if (live) {
      live.textContent = "";
      live.textContent = text;
    }
  }

  // The older way, for a browser without the asynchronous clipboard: select
  // the text and ask for a copy.
  function copyBySelection(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    var ok = false;
    try {
      ok = document.execCommand("copy");
    } catch (e) {
      ok = false;
    }
    return ok;
  }

  function setUp(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = target.textContent;
      var done = function () {
        button.textContent = "Copied";
        announce("Copied");
      };
      var failed = function () {
        if (copyBySelection(target)) {
          done();
        } else {
          announce("Could not copy; select the text and copy it by hand.");
        }
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, failed);
      } else {
        failed();
      }
    });
  }

  var buttons = document.querySelectorAll("button[data-copy]");
  for (var i = 0; i < buttons.length; i++) {
    setUp(buttons[i]);
  }
})();
