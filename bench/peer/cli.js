'use strict';
// Command-line plumbing shared by the peer scripts (server.js, mesh.js,
// meshclient-bench.js).

// parseFlags walks argv. flags maps each option to its handler: a handler
// declared with a parameter takes the option's value (the next argument),
// one declared without takes none. other(arg), when given, may accept an
// argument that names no option by returning true. It throws on an unknown
// argument or a missing value.
function parseFlags(argv, flags, other) {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const handler = Object.prototype.hasOwnProperty.call(flags, arg) ? flags[arg] : null;
    if (!handler) {
      if (other && other(arg)) continue;
      throw new Error(`unknown argument ${arg}`);
    }
    if (handler.length === 0) {
      handler();
      continue;
    }
    if (i + 1 >= argv.length) throw new Error(`missing value for ${arg}`);
    handler(argv[++i]);
  }
}

// checkPort throws unless port is a TCP port number (0: any free port).
function checkPort(port) {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`invalid port ${port}`);
  }
}

// stopOnSignal runs stop once, on the first SIGINT or SIGTERM, and exits
// the process 3 s later should stop not have done so.
function stopOnSignal(stop) {
  let stopping = false;
  const onSignal = () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), 3000).unref();
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

module.exports = { parseFlags, checkPort, stopOnSignal };
