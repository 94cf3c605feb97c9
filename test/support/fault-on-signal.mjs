// Preloaded into a `coffer serve` under test (NODE_OPTIONS=--import): on SIGUSR2 the process meets
// the fault COFFER_TEST_FAULT names, as a bug somewhere in the server would make it.
process.on('SIGUSR2', () => {
  if (process.env.COFFER_TEST_FAULT === 'throw') {
    setImmediate(() => {
      throw new Error('test fault: an exception nobody catches');
    });
  } else {
    const err = Object.assign(new Error('test fault: a rejection nobody handles'), { code: 'LOCKED' });
    void Promise.reject(err);
  }
});
