"""breakpoint() inside a view: the debugger must talk to the terminal
hotserve runs in."""


def application(environ, start_response):
    value = 'after-breakpoint'
    breakpoint()  # the test types `p 1+1` and `c`
    data = value.encode()
    start_response('200 OK', [('Content-Type', 'text/plain'),
                              ('Content-Length', str(len(data)))])
    return [data]
