/** The distributed services run on one machine, for the end-to-end suites and the bench. */
export * from './apiClient.ts'
export * from './localDeployment.ts'
export * from './warehouseStandIn.ts'
