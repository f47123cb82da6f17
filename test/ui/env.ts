// Imported first by the console tests: colours forced on (so NO_COLOR / noColor tests assert
// something real) and React's act() environment flag.
process.env.FORCE_COLOR = '1';
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
export {};
