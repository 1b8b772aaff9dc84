/** Driving the dashboard in a browser, and demo data to show in it. */
export * from './chromium.ts'
export * from './dashboardPage.ts'
export * from './demoData.ts'
