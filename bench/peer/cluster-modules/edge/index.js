'use strict';
// edge: brokers calc ($broker in package.json), so that a client of the
// edge member calls calc on a worker member.
module.exports = function Edge() {};
