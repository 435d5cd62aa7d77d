from registre.models import DossierState


def test_world_builds_and_a_dossier_can_be_finalised(world):
    ref = world.finalised()
    assert ref.state is DossierState.FINALISED
    assert ref.number == "R-2026-000001"
