// Imported first by tests that run the console for real (runConsole on fake TTY streams): colours
// forced on, and React told this is not an act() environment (Ink renders on its own schedule).
process.env.FORCE_COLOR = '1';
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = false;
export {};
