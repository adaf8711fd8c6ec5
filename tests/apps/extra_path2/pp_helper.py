VALUE = 'helper-from-second-pythonpath'
