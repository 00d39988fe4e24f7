"""The model at run time: client groups, services, links, arrivals, faults and the SimPy driver."""
