/** Bench sections that the end-to-end suites also run, on a small plan. */
export * from './perUserStatsBench.ts'
export * from './theEyeFreshnessBench.ts'
