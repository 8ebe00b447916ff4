'use strict';
// calc: the component the cluster benchmark calls on a worker member.
module.exports = function Calc() {};
module.exports.prototype.add = function (a, b, callback) {
  callback(null, a + b);
};
