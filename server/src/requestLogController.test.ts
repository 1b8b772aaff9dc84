import { describe, expect, it } from 'vitest'
import { loggableUrl } from './requestLogController.ts'

describe('request log URLs', () => {
  it.each([
    [
      '/compat/devices/users?username=anna&email=a%40b.org&password=s3cret',
      '/compat/devices/users?username=[hidden]&email=[hidden]&password=[hidden]',
    ],
    ['/v1/readings?partial=true', '/v1/readings?partial=true'],
    ['/x?Password=1&from=2&flag', '/x?Password=[hidden]&from=2&flag'],
    ['/x?pass%77ord=1&%zz=2', '/x?pass%77ord=[hidden]&%zz=2'],
    ['/x', '/x'],
    ['/compat/store-stats/api/user/ana%40example.org', '/compat/store-stats/api/user/[hidden]'],
    ['/compat/store-stats/api/user/ana@example.org?x=1', '/compat/store-stats/api/user/[hidden]?x=1'],
    ['/v1/account/analysts/ana.lima', '/v1/account/analysts/[hidden]'],
    ['/v1/people?email=ana%40example.org&limit=5', '/v1/people?email=[hidden]&limit=5'],
    ['/v1/people?q=ana%40example.org', '/v1/people?q=[hidden]'],
    ['/x?first_name=Ana&surname=Lima&phone=1', '/x?first_name=[hidden]&surname=[hidden]&phone=[hidden]'],
  ])('logs %s as %s', (url, logged) => {
    expect(loggableUrl(url)).toBe(logged)
  })
})
