/** The fake driver (tests and scale measurement only: nothing really runs). */
export { FakeDriver, type FakeDriverOptions } from './fake-driver.ts';
export { FakeHost, type FakeHostOptions, type FakeContainer, type FaultableOp } from './fake-host.ts';
export { parseProgram, type Program, type Step } from './program.ts';
