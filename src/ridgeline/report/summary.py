def summarise_run(run_dir):
    pass
