// A jest reporter that ends the run with one plain line, `tests: N passed, N failed` (and
// `, N skipped` if any), which a CI reading closing lines understands whatever the runner. A test
// file that failed outside its tests (it did not load, a hook of the file failed) counts as one
// failure, so the line never reads "0 failed" for a run that failed.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests;
    const brokenFiles = results.testResults.filter((r) => (r.testExecError || r.failureMessage) && r.numFailingTests === 0);
    for (const r of brokenFiles) console.log(`\nfailed outside its tests: ${r.testFilePath}`);
    const failed = results.numFailedTests + brokenFiles.length;
    const line = `tests: ${results.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`;
    // Last of all: after jest's own summary and the global teardown.
    process.once('exit', () => process.stdout.write(`\n${line}\n`));
  }
}
module.exports = SummaryReporter;
