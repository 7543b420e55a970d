/* Skip logic inside one survey page, as progressive enhancement: reveals or hides the
   questions whose show_if depends on an answer on the same page, as the customer answers.
   It mirrors surveys/definition.py condition_holds; without it the server re-renders the page
   with a revealed follow-up before moving on (surveys/forms.py PageAnswers). */
(function () {
  "use strict";
  var form = document.querySelector("form[data-logic]");
  if (!form) { return; }
  var logic = JSON.parse(form.getAttribute("data-logic"));
  var CONDITION = /^\s*([a-z_][a-z0-9_]*)\s*(<=|>=|==|!=|<|>)\s*(\S+)\s*$/;
  var COMPARE = {
    "<=": function (a, b) { return a <= b; }, "<": function (a, b) { return a < b; },
    ">=": function (a, b) { return a >= b; }, ">": function (a, b) { return a > b; },
    "==": function (a, b) { return a === b; }, "!=": function (a, b) { return a !== b; }
  };

  function holds(cond, answers) {
    if (cond === null || cond === undefined) { return true; }
    if (typeof cond === "object") {
      var parts = cond.all || cond.any;
      var test = function (part) { return holds(part, answers); };
      return cond.all ? parts.every(test) : parts.some(test);
    }
    var match = CONDITION.exec(String(cond));
    if (!match) { return false; }
    var actual = answers[match[1]];
    if (actual === undefined || actual === null) { return false; }
    if (typeof actual === "number") {
      var expected = Number(match[3]);
      return !isNaN(expected) && COMPARE[match[2]](actual, expected);
    }
    return (match[2] === "==" || match[2] === "!=") && COMPARE[match[2]](String(actual), match[3]);
  }

  function answerOf(key) {
    var fields = form.querySelectorAll('[name="' + key + '"]');
    var values = [];
    fields.forEach(function (field) {
      if ((field.type === "radio" || field.type === "checkbox") ? field.checked : field.value.trim()) {
        values.push(field.value.trim());
      }
    });
    if (!values.length) { return null; }
    return logic.numeric.indexOf(key) >= 0 ? Number(values[0]) : values.join(",");
  }

  function update() {
    var answers = Object.assign({}, logic.answers);
    logic.order.forEach(function (key) {
      var shown = !(key in logic.conditions) || holds(logic.conditions[key], answers);
      var box = form.querySelector('.conditional[data-key="' + key + '"]');
      if (box) {
        box.hidden = !shown;
        box.querySelector('input[name="offered"]').disabled = !shown;
      }
      var value = shown ? answerOf(key) : null;
      if (value !== null) { answers[key] = value; }
    });
  }

  form.addEventListener("change", update);
  form.addEventListener("input", update);
  update();
}());
